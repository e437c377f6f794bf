//! The per-event view the matcher reads: only the fields some rule uses, extracted in
//! one pass over the JSON text into a reused arena, so steady-state evaluation allocates
//! nothing per event.
//!
//! Field names are matched ASCII-case-insensitively (Windows field names are not
//! consistently cased across log versions, and the semantic reference, Zircolite's
//! SQLite, compares column names without case). A name is looked up as the dotted path
//! of the value (`objectRef.resource`) and, for events in the `evtx_dump` shape
//! (`Event.System…`, `Event.EventData…`), also as the flat name Sigma rules use:
//! `Event.EventData.Image` → `Image`, `Event.System.Provider.#attributes.Name` →
//! `Provider_Name`, `Event.UserData.<wrapper>.Param` → `Param`.

use rustc_hash::{FxHashMap, FxHashSet};
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// Index of a field name in a [`FieldTable`].
pub type FieldId = u32;

/// The field names a rule set reads, interned.
#[derive(Debug, Default, Clone)]
pub struct FieldTable {
    ids: FxHashMap<Box<str>, FieldId>,
    names: Vec<String>,
    /// Lower-cased proper prefixes of dotted names: objects at these paths must be
    /// descended into.
    prefixes: FxHashSet<Box<str>>,
}

impl FieldTable {
    pub fn intern(&mut self, name: &str) -> FieldId {
        let key = name.to_ascii_lowercase();
        if let Some(id) = self.ids.get(key.as_str()) {
            return *id;
        }
        let id = self.names.len() as FieldId;
        let mut end = 0;
        while let Some(dot) = key[end..].find('.') {
            end += dot;
            self.prefixes.insert(key[..end].into());
            end += 1;
        }
        self.ids.insert(key.into_boxed_str(), id);
        self.names.push(name.to_string());
        id
    }

    pub fn get(&self, name: &str) -> Option<FieldId> {
        if name.bytes().any(|b| b.is_ascii_uppercase()) {
            self.ids.get(name.to_ascii_lowercase().as_str()).copied()
        } else {
            self.ids.get(name).copied()
        }
    }

    /// Lookup of an already lower-cased name.
    fn get_lower(&self, lower: &str) -> Option<FieldId> {
        self.ids.get(lower).copied()
    }

    pub fn name(&self, id: FieldId) -> &str {
        &self.names[id as usize]
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// The JSON type of one extracted value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Str,
    Int,
    Float,
    Bool,
    Null,
    /// An object or array (present, no scalar text).
    Complex,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    /// Next entry of the same field, +1 (0 ends the list).
    next: u32,
    kind: Kind,
    start: u32,
    end: u32,
    number: f64,
    /// Named from `Event.System`: shadowed by an EventData / UserData value of the same
    /// name (`Channel` of a LogFileCleared event is the cleared log, and that is what
    /// rules mean; routing reads `Event.System.Channel` by path).
    system: bool,
}

/// One value of a field in the current event.
#[derive(Debug, Clone, Copy)]
pub struct FieldValue<'a> {
    pub kind: Kind,
    /// Text form: the string, or the canonical number / `true` / `false`; empty for null
    /// and complex values.
    pub text: &'a str,
    /// The number, for numeric kinds.
    pub number: f64,
}

impl FieldValue<'_> {
    /// Whether the value can be compared as text (strings, numbers, booleans).
    pub fn is_scalar(&self) -> bool {
        !matches!(self.kind, Kind::Null | Kind::Complex)
    }

    /// Numeric value of numbers, and of strings that parse as numbers.
    pub fn as_number(&self) -> Option<f64> {
        match self.kind {
            Kind::Int | Kind::Float => Some(self.number),
            Kind::Str => self.text.trim().parse().ok(),
            _ => None,
        }
    }
}

/// Extracted fields of one event. Reuse one per worker: [`Document::load_json`] clears it.
#[derive(Debug, Default)]
pub struct Document {
    text: String,
    entries: Vec<Entry>,
    heads: Vec<u32>,
    touched: Vec<FieldId>,
    path: String,
    name: String,
}

/// Events nested deeper than this are rejected (serde_json stops at 128 anyway; this
/// keeps the walker's own recursion shallow).
const MAX_DEPTH: usize = 96;

impl Document {
    pub fn new() -> Self {
        Self::default()
    }

    /// Forgets the previous event.
    pub fn clear(&mut self) {
        for f in self.touched.drain(..) {
            self.heads[f as usize] = 0;
        }
        self.entries.clear();
        self.text.clear();
    }

    /// Extracts the fields of `table` from a JSON object text.
    pub fn load_json(&mut self, table: &FieldTable, json: &str) -> Result<(), serde_json::Error> {
        self.clear();
        if self.heads.len() < table.len() {
            self.heads.resize(table.len(), 0);
        }
        self.path.clear();
        let mut de = serde_json::Deserializer::from_str(json);
        let walker = Walker { table, doc: self, depth: 0, text: true };
        let result = ValueSeed { walker, ids: [None, None], hoist: Hoist::Top, system: false }.deserialize(&mut de);
        result.and_then(|_| de.end())
    }

    /// Extracts the fields of `table` from an already parsed JSON value.
    pub fn load_value(&mut self, table: &FieldTable, value: &serde_json::Value) {
        // A parsed value deserializes through the same walker, so both paths agree.
        self.clear();
        if self.heads.len() < table.len() {
            self.heads.resize(table.len(), 0);
        }
        self.path.clear();
        let walker = Walker { table, doc: self, depth: 0, text: false };
        let _ = ValueSeed { walker, ids: [None, None], hoist: Hoist::Top, system: false }.deserialize(value);
    }

    /// Adds a value programmatically (decoders that build views without JSON text).
    pub fn push_str(&mut self, table: &FieldTable, field: &str, value: &str) {
        if let Some(id) = table.get(field) {
            if self.heads.len() < table.len() {
                self.heads.resize(table.len(), 0);
            }
            let (start, end) = self.push_text(value);
            self.push_entry(id, Kind::Str, start, end, 0.0, false);
        }
    }

    fn push_text(&mut self, s: &str) -> (u32, u32) {
        let start = self.text.len() as u32;
        self.text.push_str(s);
        (start, self.text.len() as u32)
    }

    fn push_entry(&mut self, id: FieldId, kind: Kind, start: u32, end: u32, number: f64, system: bool) {
        let head = &mut self.heads[id as usize];
        if *head == 0 {
            self.touched.push(id);
        } else {
            let head_is_system = self.entries[*head as usize - 1].system;
            if system && !head_is_system {
                return;
            }
            if !system && head_is_system {
                *head = 0;
            }
        }
        self.entries.push(Entry { next: *head, kind, start, end, number, system });
        *head = self.entries.len() as u32;
    }

    /// Whether the field is present (with any value, null included).
    pub fn has(&self, id: FieldId) -> bool {
        self.heads.get(id as usize).is_some_and(|h| *h != 0)
    }

    /// The values of a field (several when it came from an array or from several paths).
    pub fn values(&self, id: FieldId) -> FieldValues<'_> {
        FieldValues { doc: self, next: self.heads.get(id as usize).copied().unwrap_or(0) }
    }

    /// The first scalar text of a field.
    pub fn first_text(&self, id: FieldId) -> Option<&str> {
        self.values(id).find(|v| v.is_scalar()).map(|v| v.text)
    }

    /// Fields present in the current event.
    pub fn present_fields(&self) -> &[FieldId] {
        &self.touched
    }
}

pub struct FieldValues<'a> {
    doc: &'a Document,
    next: u32,
}

impl<'a> Iterator for FieldValues<'a> {
    type Item = FieldValue<'a>;

    fn next(&mut self) -> Option<FieldValue<'a>> {
        if self.next == 0 {
            return None;
        }
        let e = self.doc.entries[self.next as usize - 1];
        self.next = e.next;
        Some(FieldValue { kind: e.kind, text: &self.doc.text[e.start as usize..e.end as usize], number: e.number })
    }
}

/// Where in the evtx_dump shape the walker is, to derive flat Sigma names.
#[derive(Debug, Clone, Copy)]
enum Hoist {
    /// The document root.
    Top,
    /// Not inside an evtx-shaped part: only dotted paths name values.
    Off,
    /// Inside `Event`.
    Event,
    /// Inside a top-level object other than `Event`: children are also named by key.
    TopChild,
    /// Children are named by their key (`System`, `EventData`, the inner level of
    /// `UserData`); `system` when inside `System`.
    Named { system: bool },
    /// Inside `UserData`: one wrapper element before the named fields.
    UserData,
    /// Inside a named object (`Provider`, `TimeCreated`, an EventData element with
    /// attributes): the object's key occupies `path[start..end]`.
    Within { start: u32, end: u32, system: bool },
    /// Inside `#attributes` of a System element `path[start..end]`: children are named
    /// `<element>_<attribute>`.
    Attributes { start: u32, end: u32, system: bool },
}

struct Walker<'t, 'd> {
    table: &'t FieldTable,
    doc: &'d mut Document,
    depth: usize,
    /// Walking JSON text (not a parsed value): unwanted values can be skipped as raw
    /// text, without decoding their strings.
    text: bool,
}

struct ValueSeed<'t, 'd> {
    walker: Walker<'t, 'd>,
    /// The value's dotted-path field, and its flat (hoisted) name field.
    ids: [Option<FieldId>; 2],
    hoist: Hoist,
    /// The flat name comes from `Event.System`.
    system: bool,
}

// Re-borrowing helper: seeds consume a Walker by value; nested ones borrow the doc.
impl<'t> Walker<'t, '_> {
    fn reborrow(&mut self) -> Walker<'t, '_> {
        Walker { table: self.table, doc: self.doc, depth: self.depth, text: self.text }
    }
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_, '_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, de: D) -> Result<(), D::Error> {
        de.deserialize_any(self)
    }
}

impl ValueSeed<'_, '_> {
    fn scalar(self, kind: Kind, text: &str, number: f64) {
        let [a, b] = self.ids;
        if a.is_none() && b.is_none() {
            return;
        }
        let (start, end) = self.walker.doc.push_text(text);
        if let Some(id) = a {
            self.walker.doc.push_entry(id, kind, start, end, number, false);
        }
        if let Some(id) = b {
            self.walker.doc.push_entry(id, kind, start, end, number, self.system);
        }
    }

    fn mark_complex(&mut self) {
        let [a, b] = self.ids;
        if let Some(id) = a {
            self.walker.doc.push_entry(id, Kind::Complex, 0, 0, 0.0, false);
        }
        if let Some(id) = b {
            self.walker.doc.push_entry(id, Kind::Complex, 0, 0, 0.0, self.system);
        }
    }

    /// Whether keys below the current path can name a field.
    fn descends(&self) -> bool {
        match self.hoist {
            Hoist::Off => {
                let p = &self.walker.doc.path;
                !self.walker.table.prefixes.is_empty() && self.walker.table.prefixes.contains(p.as_str())
            }
            _ => true,
        }
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.scalar(Kind::Str, v, 0.0);
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        let mut buf = itoa::Buffer::new();
        let text = buf.format(v);
        self.scalar(Kind::Int, text, v as f64);
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        let mut buf = itoa::Buffer::new();
        let text = buf.format(v);
        self.scalar(Kind::Int, text, v as f64);
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        let text = crate::value::number_text(v);
        self.scalar(Kind::Float, &text, v);
        Ok(())
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        self.scalar(Kind::Bool, if v { "true" } else { "false" }, v as u8 as f64);
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.scalar(Kind::Null, "", 0.0);
        Ok(())
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.visit_unit()
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        self.mark_complex();
        if self.walker.depth >= MAX_DEPTH {
            return Err(de::Error::custom("event nested too deeply"));
        }
        // Array elements share the array's path: `a: [{b: 1}]` is field `a.b`, and a
        // scalar array gives its field several values.
        let element_ids = self.ids;
        let hoist = self.hoist;
        let descends = self.descends();
        self.walker.depth += 1;
        loop {
            let seed =
                ElementSeed { walker: self.walker.reborrow(), ids: element_ids, hoist, system: self.system, descends };
            if seq.next_element_seed(seed)?.is_none() {
                break;
            }
        }
        self.walker.depth -= 1;
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        self.mark_complex();
        if self.walker.depth >= MAX_DEPTH {
            return Err(de::Error::custom("event nested too deeply"));
        }
        let descends = self.descends();
        if !descends {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            return Ok(());
        }
        self.walker.depth += 1;
        let base_len = self.walker.doc.path.len();
        let separator = !matches!(self.hoist, Hoist::Top);
        loop {
            let key_seed = KeySeed { doc: &mut *self.walker.doc, separator };
            if map.next_key_seed(key_seed)?.is_none() {
                break;
            }
            let key_start = base_len + separator as usize;
            let (ids, child_hoist, system) = self.child(key_start);
            if self.walker.text && ids == [None, None] {
                // Nothing reads this value itself: skip it undecoded, and walk it only
                // if it is a container something below may be read from.
                let raw: &'de serde_json::value::RawValue = map.next_value()?;
                let container = matches!(raw.get().as_bytes().first(), Some(b'{' | b'['));
                let below = !matches!(child_hoist, Hoist::Off)
                    || self.walker.table.prefixes.contains(self.walker.doc.path.as_str());
                if container && below {
                    let mut sub = serde_json::Deserializer::from_str(raw.get());
                    let seed = ValueSeed { walker: self.walker.reborrow(), ids, hoist: child_hoist, system };
                    seed.deserialize(&mut sub).map_err(de::Error::custom)?;
                }
            } else {
                let seed = ValueSeed { walker: self.walker.reborrow(), ids, hoist: child_hoist, system };
                map.next_value_seed(seed)?;
            }
            self.walker.doc.path.truncate(base_len);
        }
        self.walker.depth -= 1;
        Ok(())
    }
}

impl ValueSeed<'_, '_> {
    /// Field ids and hoisting state for the key just appended at `path[key_start..]`.
    /// Also whether the flat name comes from `Event.System`.
    fn child(&mut self, key_start: usize) -> ([Option<FieldId>; 2], Hoist, bool) {
        let table = self.walker.table;
        let doc = &mut *self.walker.doc;
        let path = doc.path.as_str();
        let key = &path[key_start..];
        let by_path = table.get_lower(path);
        let (start, end) = (key_start as u32, path.len() as u32);
        let (flat_name, hoist): (Option<&str>, Hoist) = match self.hoist {
            // Top-level objects of flat Windows events (`UserData` wrappers flattened
            // to the top, e.g. `Operation_ClientFailure: {Operation: …}`) name their
            // children like `UserData` does; dotted paths still take precedence.
            Hoist::Top => (None, if key == "event" { Hoist::Event } else { Hoist::TopChild }),
            Hoist::Event => match key {
                "system" => (None, Hoist::Named { system: true }),
                "eventdata" => (None, Hoist::Named { system: false }),
                "userdata" => (None, Hoist::UserData),
                _ => (None, Hoist::Off),
            },
            Hoist::UserData => (None, Hoist::Named { system: false }),
            Hoist::Named { system } => (Some(key), Hoist::Within { start, end, system }),
            Hoist::TopChild => (Some(key), Hoist::Off),
            Hoist::Within { start: s, end: e, system } => match key {
                "#attributes" => (None, Hoist::Attributes { start: s, end: e, system }),
                "#text" => (Some(&path[s as usize..e as usize]), Hoist::Off),
                _ => (None, Hoist::Off),
            },
            Hoist::Attributes { start: s, end: e, .. } => {
                doc.name.clear();
                doc.name.push_str(&path[s as usize..e as usize]);
                doc.name.push('_');
                doc.name.push_str(key);
                (Some(doc.name.as_str()), Hoist::Off)
            }
            Hoist::Off => (None, Hoist::Off),
        };
        let by_name = flat_name.and_then(|n| table.get_lower(n)).filter(|id| Some(*id) != by_path);
        let from_system = match self.hoist {
            Hoist::Named { system } | Hoist::Within { system, .. } | Hoist::Attributes { system, .. } => system,
            _ => false,
        };
        ([by_path, by_name], hoist, from_system)
    }
}

struct ElementSeed<'t, 'd> {
    walker: Walker<'t, 'd>,
    ids: [Option<FieldId>; 2],
    hoist: Hoist,
    system: bool,
    descends: bool,
}

impl<'de> DeserializeSeed<'de> for ElementSeed<'_, '_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, de: D) -> Result<(), D::Error> {
        if self.ids == [None, None] && !self.descends {
            IgnoredAny::deserialize(de).map(|_| ())
        } else {
            // Elements don't re-mark the field as complex; scalars become values.
            ValueSeed { walker: self.walker, ids: self.ids, hoist: self.hoist, system: self.system }.deserialize(de)
        }
    }
}

use serde::Deserialize as _;

/// Appends a lower-cased key (with a `.` separator) to the path buffer.
struct KeySeed<'d> {
    doc: &'d mut Document,
    separator: bool,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, de: D) -> Result<(), D::Error> {
        de.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        if self.separator {
            self.doc.path.push('.');
        }
        let start = self.doc.path.len();
        self.doc.path.push_str(v);
        // ASCII lower-casing in place keeps the string valid UTF-8.
        self.doc.path[start..].make_ascii_lowercase();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(names: &[&str]) -> FieldTable {
        let mut t = FieldTable::default();
        for n in names {
            t.intern(n);
        }
        t
    }

    fn texts(doc: &Document, t: &FieldTable, name: &str) -> Vec<String> {
        let mut v: Vec<String> =
            doc.values(t.get(name).unwrap()).filter(|v| v.is_scalar()).map(|v| v.text.to_string()).collect();
        v.sort();
        v
    }

    #[test]
    fn flat_and_nested_windows_shapes_give_the_same_fields() {
        let t = table(&["Image", "EventID", "Provider_Name", "Channel", "TimeCreated_SystemTime", "Param1"]);
        let flat = r#"{"Channel":"Security","EventID":4688,"Image":"C:\\x.exe","Provider_Name":"P"}"#;
        let nested = r##"{"Event":{"#attributes":{"xmlns":"x"},"System":{"Provider":{"#attributes":{"Name":"P","Guid":"g"}},"EventID":4688,"Channel":"Security","TimeCreated":{"#attributes":{"SystemTime":"2024-01-01T00:00:00Z"}}},"EventData":{"Image":"C:\\x.exe"}}}"##;
        let mut d = Document::new();
        for json in [flat, nested] {
            d.load_json(&t, json).unwrap();
            assert_eq!(texts(&d, &t, "image"), vec![r"C:\x.exe"]);
            assert_eq!(texts(&d, &t, "EventID"), vec!["4688"]);
            assert_eq!(texts(&d, &t, "Provider_Name"), vec!["P"]);
            assert_eq!(texts(&d, &t, "Channel"), vec!["Security"]);
        }
        assert_eq!(texts(&d, &t, "TimeCreated_SystemTime"), vec!["2024-01-01T00:00:00Z"]);
        let userdata = r#"{"Event":{"System":{"EventID":1},"UserData":{"Wrapper":{"Param1":"v"}}}}"#;
        d.load_json(&t, userdata).unwrap();
        assert_eq!(texts(&d, &t, "Param1"), vec!["v"]);
    }

    #[test]
    fn event_data_shadows_system_values_of_the_same_name() {
        let t = table(&["Channel", "Event.System.Channel"]);
        let cleared = r#"{"Event":{"System":{"Channel":"System","EventID":104},"UserData":{"LogFileCleared":{"Channel":"Application"}}}}"#;
        let mut d = Document::new();
        d.load_json(&t, cleared).unwrap();
        assert_eq!(texts(&d, &t, "Channel"), vec!["Application"]);
        assert_eq!(texts(&d, &t, "Event.System.Channel"), vec!["System"]);
        // Order-independent: data first, then System.
        let reversed =
            r#"{"Event":{"UserData":{"LogFileCleared":{"Channel":"Application"}},"System":{"Channel":"System"}}}"#;
        d.load_json(&t, reversed).unwrap();
        assert_eq!(texts(&d, &t, "Channel"), vec!["Application"]);
    }

    #[test]
    fn dotted_paths_arrays_and_kinds() {
        let t = table(&["objectRef.resource", "user.groups", "a.b", "n", "f", "z", "missing", "obj"]);
        let json = r#"{"objectRef":{"resource":"pods"},"user":{"groups":["system:masters","x"]},"a":[{"b":1},{"b":2}],"n":null,"f":1.5,"z":false,"obj":{"k":1}}"#;
        let mut d = Document::new();
        d.load_json(&t, json).unwrap();
        assert_eq!(texts(&d, &t, "objectRef.resource"), vec!["pods"]);
        assert_eq!(texts(&d, &t, "user.groups"), vec!["system:masters", "x"]);
        assert_eq!(texts(&d, &t, "a.b"), vec!["1", "2"]);
        assert_eq!(d.values(t.get("n").unwrap()).next().unwrap().kind, Kind::Null);
        assert_eq!(texts(&d, &t, "f"), vec!["1.5"]);
        assert_eq!(texts(&d, &t, "z"), vec!["false"]);
        assert!(!d.has(t.get("missing").unwrap()));
        assert_eq!(d.values(t.get("obj").unwrap()).next().unwrap().kind, Kind::Complex);
        // Reuse clears the previous event.
        d.load_json(&t, r#"{"n":1}"#).unwrap();
        assert!(!d.has(t.get("objectRef.resource").unwrap()));
        assert_eq!(texts(&d, &t, "n"), vec!["1"]);
    }

    #[test]
    fn escaped_strings_are_decoded_and_bad_json_is_an_error() {
        let t = table(&["a"]);
        let mut d = Document::new();
        d.load_json(&t, r#"{"a":"x\"y\u00e9\\z"}"#).unwrap();
        assert_eq!(texts(&d, &t, "a"), vec!["x\"yé\\z"]);
        assert!(d.load_json(&t, r#"{"a":"#).is_err());
        assert!(d.load_json(&t, r#"{"a":1} trailing"#).is_err());
        let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
        assert!(d.load_json(&t, &deep).is_err());
    }

    #[test]
    fn load_value_agrees_with_load_json() {
        let t = table(&["a.b", "c"]);
        let json = r#"{"a":{"b":[1,"x"]},"c":true}"#;
        let mut d1 = Document::new();
        d1.load_json(&t, json).unwrap();
        let mut d2 = Document::new();
        d2.load_value(&t, &serde_json::from_str(json).unwrap());
        assert_eq!(texts(&d1, &t, "a.b"), texts(&d2, &t, "a.b"));
        assert_eq!(texts(&d1, &t, "c"), texts(&d2, &t, "c"));
    }
}

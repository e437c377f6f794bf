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

use rustc_hash::FxHashSet;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::fmt;

mod fast;

/// For the `document_fast_vs_serde` fuzz target: loads `json` with the fast walker and
/// with the serde walker over the fields the proptests use too, and describes any
/// difference (see `fast::disagreement`). `Ok` tells whether the fast walker took it.
#[doc(hidden)]
pub fn fast_walker_disagreement(json: &str) -> Result<bool, String> {
    fast::disagreement(&fast::differential_table(), json)
}

/// Index of a field name in a [`FieldTable`].
pub type FieldId = u32;

/// The field names a rule set reads, interned.
///
/// Names are looked up lower-cased, once per key of every event, so the index is a
/// small open-addressing table over the lower-cased names' bytes, with a hash that
/// reads 8 bytes at a time (cheaper than a general-purpose map for keys of ~12 bytes).
#[derive(Debug, Default, Clone)]
pub struct FieldTable {
    names: Vec<String>,
    /// Per field: its lower-cased name and that name's [`name_hash`].
    lower: Vec<(Box<[u8]>, u64)>,
    /// Field id + 1 (0: free), at the slot of its hash, or after it (linear probing).
    /// A power of two at least twice the number of fields; empty without fields.
    slots: Vec<u32>,
    /// Lower-cased proper prefixes of dotted names: objects at these paths must be
    /// descended into.
    prefixes: FxHashSet<Box<[u8]>>,
}

impl FieldTable {
    pub fn intern(&mut self, name: &str) -> FieldId {
        let key = name.to_ascii_lowercase();
        if let Some(id) = self.get_lower(key.as_bytes()) {
            return id;
        }
        let id = self.names.len() as FieldId;
        let mut end = 0;
        while let Some(dot) = key[end..].find('.') {
            end += dot;
            self.prefixes.insert(key.as_bytes()[..end].into());
            end += 1;
        }
        let hash = name_hash(key.as_bytes());
        self.lower.push((key.into_bytes().into_boxed_slice(), hash));
        self.names.push(name.to_string());
        if self.slots.len() < 2 * self.lower.len() {
            let size = (2 * self.lower.len()).next_power_of_two().max(16);
            self.slots = vec![0; size];
            for (i, (_, h)) in self.lower.iter().enumerate() {
                Self::place(&mut self.slots, *h, i as FieldId);
            }
        } else {
            Self::place(&mut self.slots, hash, id);
        }
        id
    }

    fn place(slots: &mut [u32], hash: u64, id: FieldId) {
        let mask = slots.len() - 1;
        let mut i = hash as usize & mask;
        while slots[i] != 0 {
            i = (i + 1) & mask;
        }
        slots[i] = id + 1;
    }

    pub fn get(&self, name: &str) -> Option<FieldId> {
        if name.bytes().any(|b| b.is_ascii_uppercase()) {
            self.get_lower(name.to_ascii_lowercase().as_bytes())
        } else {
            self.get_lower(name.as_bytes())
        }
    }

    /// Lookup of an already lower-cased name.
    #[inline]
    fn get_lower(&self, lower: &[u8]) -> Option<FieldId> {
        if self.slots.is_empty() {
            return None;
        }
        let hash = name_hash(lower);
        let mask = self.slots.len() - 1;
        let mut i = hash as usize & mask;
        loop {
            let slot = self.slots[i];
            if slot == 0 {
                return None;
            }
            let (name, h) = &self.lower[slot as usize - 1];
            if *h == hash && same_bytes(name, lower) {
                return Some(slot - 1);
            }
            i = (i + 1) & mask;
        }
    }

    /// Whether objects at this lower-cased path hold fields (`a` for `a.b`).
    fn is_prefix(&self, lower: &[u8]) -> bool {
        !self.prefixes.is_empty() && self.prefixes.contains(lower)
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

/// `a == b` for short slices (field names), without a call to `memcmp`.
#[inline]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let word = |s: &[u8], at: usize| u64::from_le_bytes(s[at..at + 8].try_into().expect("8 bytes"));
    let half = |s: &[u8], at: usize| u32::from_le_bytes(s[at..at + 4].try_into().expect("4 bytes"));
    if n >= 8 {
        let mut at = 0;
        while at + 8 <= n {
            if word(a, at) != word(b, at) {
                return false;
            }
            at += 8;
        }
        // The last 8 bytes, overlapping what was compared.
        word(a, n - 8) == word(b, n - 8)
    } else if n >= 4 {
        half(a, 0) == half(b, 0) && half(a, n - 4) == half(b, n - 4)
    } else {
        a == b
    }
}

/// ASCII-lower-cases `bytes` in place, 8 at a time.
fn lower_ascii(bytes: &mut [u8]) {
    let fold = |c: &mut [u8]| {
        let w = crate::literals::fold8::<true>(u64::from_le_bytes((&*c).try_into().expect("8 bytes")));
        c.copy_from_slice(&w.to_le_bytes());
    };
    let n = bytes.len();
    let mut chunks = bytes.chunks_exact_mut(8);
    for c in &mut chunks {
        fold(c);
    }
    if !chunks.into_remainder().is_empty() {
        if n >= 8 {
            // Lower-casing twice changes nothing: redo the last 8 bytes.
            fold(&mut bytes[n - 8..]);
        } else {
            bytes.make_ascii_lowercase();
        }
    }
}

/// Hash of a lower-cased field name, 8 bytes at a time. The length is mixed in first,
/// so the overlapping or partial reads of a short tail cannot make two names of
/// different lengths collide by construction.
#[inline]
fn name_hash(bytes: &[u8]) -> u64 {
    const MUL: u64 = 0x9E37_79B9_7F4A_7C15;
    let mix = |h: u64, w: u64| (h ^ w).wrapping_mul(MUL).rotate_left(29);
    let n = bytes.len();
    let mut h = n as u64;
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        h = mix(h, u64::from_le_bytes(c.try_into().expect("8 bytes")));
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let tail = if n >= 8 {
            // The last 8 bytes, overlapping the previous chunk.
            u64::from_le_bytes(bytes[n - 8..].try_into().expect("8 bytes"))
        } else if n >= 4 {
            let first = u32::from_le_bytes(bytes[..4].try_into().expect("4 bytes"));
            let last = u32::from_le_bytes(bytes[n - 4..].try_into().expect("4 bytes"));
            u64::from(first) | u64::from(last) << 32
        } else {
            u64::from(bytes[0]) | u64::from(bytes[n / 2]) << 8 | u64::from(bytes[n - 1]) << 16
        };
        h = mix(h, tail);
    }
    h ^ h >> 32
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
    /// Lower-cased dotted path of the current key (bytes: lower-casing 8 at a time
    /// keeps them UTF-8, but only as bytes can safe code do it).
    path: Vec<u8>,
    name: Vec<u8>,
    /// `text`, ASCII-lower-cased, once something asked for it (`lower_ready`).
    lower: Vec<u8>,
    lower_ready: bool,
    /// `text[..source_len]` is the event's JSON text itself (the fast walker starts the
    /// text with it); 0 when it is not.
    source_len: usize,
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
        self.lower_ready = false;
        self.source_len = 0;
    }

    /// Every value's text ASCII-lower-cased, at the value's offsets (see
    /// [`Document::scalar_spans`]): one pass over the event instead of one copy per
    /// value that needs it.
    pub(crate) fn lowered(&mut self) -> &[u8] {
        if !self.lower_ready {
            self.lower.clear();
            self.lower.extend_from_slice(self.text.as_bytes());
            lower_ascii(&mut self.lower);
            self.lower_ready = true;
        }
        &self.lower
    }

    /// [`Document::lowered`], as last computed (empty before).
    pub(crate) fn lowered_text(&self) -> &[u8] {
        &self.lower
    }

    /// The JSON text the document was loaded from, ASCII-lower-cased, when that text
    /// is at hand (loaded by the fast walker).
    pub(crate) fn lowered_source(&mut self) -> Option<&[u8]> {
        let n = self.source_len;
        (n > 0).then(|| &self.lowered()[..n])
    }

    /// The byte spans, in the document's text (and in [`Document::lowered`]), of a
    /// field's scalar values.
    pub(crate) fn scalar_spans(&self, id: FieldId) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
        let mut next = self.heads.get(id as usize).copied().unwrap_or(0);
        std::iter::from_fn(move || loop {
            if next == 0 {
                return None;
            }
            let e = &self.entries[next as usize - 1];
            next = e.next;
            if !matches!(e.kind, Kind::Null | Kind::Complex) {
                return Some(e.start as usize..e.end as usize);
            }
        })
    }

    /// Extracts the fields of `table` from a JSON object text.
    pub fn load_json(&mut self, table: &FieldTable, json: &str) -> Result<(), serde_json::Error> {
        self.clear();
        if self.heads.len() < table.len() {
            self.heads.resize(table.len(), 0);
        }
        self.path.clear();
        if fast::walk(table, self, json).is_ok() {
            return Ok(());
        }
        // Invalid or unusual input (see `fast`): the serde walker decides, and words
        // the error.
        self.load_json_serde(table, json)
    }

    /// [`Document::load_json`] through serde_json: the reference the fast walker must
    /// agree with.
    fn load_json_serde(&mut self, table: &FieldTable, json: &str) -> Result<(), serde_json::Error> {
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
        self.lower_ready = false;
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
        descends(self.walker.table, &self.walker.doc.path, self.hoist)
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
                let below = !matches!(child_hoist, Hoist::Off) || self.walker.table.is_prefix(&self.walker.doc.path);
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
    fn child(&mut self, key_start: usize) -> ([Option<FieldId>; 2], Hoist, bool) {
        child_of(self.walker.table, self.walker.doc, self.hoist, key_start)
    }
}

/// Field ids and hoisting state for the key just appended at `doc.path[key_start..]`
/// of an object walked in state `hoist`. Also whether the flat name comes from
/// `Event.System`. Shared by both walkers, so they name values alike.
#[inline]
fn child_of(
    table: &FieldTable,
    doc: &mut Document,
    hoist: Hoist,
    key_start: usize,
) -> ([Option<FieldId>; 2], Hoist, bool) {
    let path = doc.path.as_slice();
    let key = &path[key_start..];
    let by_path = table.get_lower(path);
    let (start, end) = (key_start as u32, path.len() as u32);
    let (flat_name, child_hoist): (Option<&[u8]>, Hoist) = match hoist {
        // Top-level objects of flat Windows events (`UserData` wrappers flattened
        // to the top, e.g. `Operation_ClientFailure: {Operation: …}`) name their
        // children like `UserData` does; dotted paths still take precedence.
        Hoist::Top => (None, if key == b"event" { Hoist::Event } else { Hoist::TopChild }),
        Hoist::Event => match key {
            b"system" => (None, Hoist::Named { system: true }),
            b"eventdata" => (None, Hoist::Named { system: false }),
            b"userdata" => (None, Hoist::UserData),
            _ => (None, Hoist::Off),
        },
        Hoist::UserData => (None, Hoist::Named { system: false }),
        Hoist::Named { system } => (Some(key), Hoist::Within { start, end, system }),
        Hoist::TopChild => (Some(key), Hoist::Off),
        Hoist::Within { start: s, end: e, system } => match key {
            b"#attributes" => (None, Hoist::Attributes { start: s, end: e, system }),
            b"#text" => (Some(&path[s as usize..e as usize]), Hoist::Off),
            _ => (None, Hoist::Off),
        },
        Hoist::Attributes { start: s, end: e, .. } => {
            doc.name.clear();
            doc.name.extend_from_slice(&path[s as usize..e as usize]);
            doc.name.push(b'_');
            doc.name.extend_from_slice(key);
            (Some(doc.name.as_slice()), Hoist::Off)
        }
        Hoist::Off => (None, Hoist::Off),
    };
    let by_name = flat_name.and_then(|n| table.get_lower(n)).filter(|id| Some(*id) != by_path);
    let from_system = match hoist {
        Hoist::Named { system } | Hoist::Within { system, .. } | Hoist::Attributes { system, .. } => system,
        _ => false,
    };
    ([by_path, by_name], child_hoist, from_system)
}

/// Whether keys below `path`, walked in state `hoist`, can name a field.
fn descends(table: &FieldTable, path: &[u8], hoist: Hoist) -> bool {
    match hoist {
        Hoist::Off => table.is_prefix(path),
        _ => true,
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
            self.doc.path.push(b'.');
        }
        let start = self.doc.path.len();
        self.doc.path.extend_from_slice(v.as_bytes());
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
    fn field_table_finds_every_name_whatever_its_case_and_nothing_else() {
        let names: Vec<String> =
            (0..3000).map(|i| format!("{}Field{i}{}", "x".repeat(i % 23), "Y".repeat(i % 5))).collect();
        let mut t = FieldTable::default();
        let ids: Vec<FieldId> = names.iter().map(|n| t.intern(n)).collect();
        for (n, id) in names.iter().zip(&ids) {
            assert_eq!(t.get(n), Some(*id));
            assert_eq!(t.get(&n.to_ascii_uppercase()), Some(*id));
            assert_eq!(t.get(&n.to_ascii_lowercase()), Some(*id));
            assert_eq!(t.intern(&n.to_ascii_uppercase()), *id);
            assert_eq!(t.name(*id), n);
        }
        for missing in ["", "a", "field0y", "xfield1", "Field3000", "xxxxxxxxxxxxxxxxxxxxxxField22YYYYY"] {
            assert_eq!(t.get(missing), None, "{missing}");
        }
        assert_eq!(FieldTable::default().get("x"), None);
    }

    proptest::proptest! {
        #[test]
        fn lower_casing_and_comparing_8_bytes_at_a_time(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40),
            other in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40),
        ) {
            let mut lowered = bytes.clone();
            lower_ascii(&mut lowered);
            proptest::prop_assert_eq!(&lowered, &bytes.to_ascii_lowercase());
            proptest::prop_assert!(same_bytes(&bytes, &bytes));
            proptest::prop_assert_eq!(same_bytes(&bytes, &other), bytes == other);
            let mut changed = bytes.clone();
            if let Some(last) = changed.last_mut() {
                *last ^= 1;
                proptest::prop_assert!(!same_bytes(&bytes, &changed));
            }
        }
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

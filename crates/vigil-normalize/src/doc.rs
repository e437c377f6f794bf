//! [`Doc`]: the JSON object a decoder builds (the OCSF event and the Sigma view), kept
//! in two buffers — a node vector and one text arena — instead of a tree of
//! `serde_json::Map`s.
//!
//! Why: building the OCSF and Sigma views as maps cost about 145 heap allocations per
//! Tetragon event (a key `String`, a value `String`, and an index table per object),
//! and allocation was half of decode time. A `Doc` allocates its two buffers and grows
//! them; string values and dynamic keys are copied into the arena, object members are
//! linked nodes. Members keep their insertion order, and setting an existing key
//! replaces its value in place, as an insertion-ordered map does — so the JSON a `Doc`
//! serializes to is the same as the map it replaces.
//!
//! Reads on the hot path go through [`Doc::field`] / [`Doc::str_field`] (no
//! allocation). [`Doc::as_value`] (and `doc["key"]`) materializes a
//! `serde_json::Value` once and caches it: for tests and rare callers only.

use std::fmt;
use std::sync::OnceLock;

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json::{Map, Value};

/// No node (end of a member list).
const NONE: u32 = u32::MAX;

/// A handle on an object of a [`Doc`] ([`Doc::ROOT`] or one made by [`Doc::object`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Obj(u32);

#[derive(Clone, Copy)]
enum Key {
    Static(&'static str),
    /// `start`, `len` in the text arena.
    Arena(u32, u32),
}

#[derive(Clone, Copy)]
enum Slot {
    Null,
    Bool(bool),
    U64(u64),
    I64(i64),
    F64(f64),
    /// `start`, `len` in the text arena.
    Str(u32, u32),
    /// Arrays (and anything else kept as a value): an index into `Doc::values`, so that
    /// nodes own nothing and dropping a doc frees two buffers without visiting nodes.
    Json(u32),
    /// Members `first` … `last` (node indexes, linked by `next`).
    Object(u32, u32),
}

#[derive(Clone, Copy)]
struct Node {
    key: Key,
    value: Slot,
    next: u32,
    /// [`key_hash`] of the key: member lookup compares these before any text.
    hash: u32,
    /// For objects: one bit per member, [`mask_bit`] of its hash. Most stores add a
    /// new member, and the mask tells so without walking the members.
    mask: u64,
}

#[inline(always)]
fn mask_bit(hash: u32) -> u64 {
    1 << ((hash ^ (hash >> 11) ^ (hash >> 21)) & 63)
}

/// A cheap fingerprint of a member name (length and three bytes): lookups scan a few
/// siblings, so computing it must cost less than the string compares it saves. Always
/// inlined: for a literal name the compiler computes it (see [`KeyRef`]).
#[inline(always)]
fn key_hash(key: &str) -> u32 {
    let b = key.as_bytes();
    match b.len() {
        0 => 0,
        n => (n as u32 & 0xff) | u32::from(b[0]) << 8 | u32::from(b[n / 2]) << 16 | u32::from(b[n - 1]) << 24,
    }
}

/// One value of a [`Doc`], borrowed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Field<'d> {
    Null,
    Bool(bool),
    U64(u64),
    I64(i64),
    F64(f64),
    Str(&'d str),
    Json(&'d Value),
    Object(Obj),
}

impl<'d> Field<'d> {
    pub fn as_str(self) -> Option<&'d str> {
        match self {
            Field::Str(s) => Some(s),
            Field::Json(Value::String(s)) => Some(s),
            _ => None,
        }
    }

    pub fn as_u64(self) -> Option<u64> {
        match self {
            Field::U64(n) => Some(n),
            Field::I64(n) => u64::try_from(n).ok(),
            Field::Json(v) => v.as_u64(),
            _ => None,
        }
    }
}

/// A JSON object in an arena. See the module documentation.
#[derive(Clone)]
pub struct Doc {
    nodes: Vec<Node>,
    text: String,
    /// Values kept as JSON (arrays, numbers that fit no integer).
    values: Vec<Value>,
    /// The materialized form, built on first use of [`Doc::as_value`] (boxed: most
    /// docs never build it, and a `Doc` is moved several times per event).
    value: OnceLock<Box<Value>>,
}

impl Default for Doc {
    fn default() -> Self {
        Doc::new()
    }
}

/// Something that can be stored as a [`Doc`] value. `None` and `Value::Null` are a
/// JSON null (which [`Doc::set`] skips and [`Doc::insert`] keeps).
pub trait DocValue {
    /// Stores `self` under `key` of `obj` in `doc`.
    #[doc(hidden)]
    fn put(self, doc: &mut Doc, obj: Obj, key: KeyRef<'_>);
    #[doc(hidden)]
    fn is_null(&self) -> bool {
        false
    }
}

/// A member name: a `&'static str` is kept by reference; other names are copied. It
/// carries the name's [`key_hash`], computed where the name is made: [`Doc::put`] and
/// [`Doc::insert`] are small and generic, so they are inlined where the name is a
/// literal and the compiler computes the hash there (a store was a fifth of building a
/// Tetragon event, and hashing a tenth of a store).
#[derive(Clone, Copy)]
#[doc(hidden)]
pub struct KeyRef<'k> {
    name: KeyName<'k>,
    hash: u32,
}

#[derive(Clone, Copy)]
enum KeyName<'k> {
    Static(&'static str),
    Borrowed(&'k str),
}

impl<'k> KeyRef<'k> {
    #[inline(always)]
    fn fixed(name: &'static str) -> Self {
        KeyRef { name: KeyName::Static(name), hash: key_hash(name) }
    }

    #[inline(always)]
    fn borrowed(name: &'k str) -> Self {
        KeyRef { name: KeyName::Borrowed(name), hash: key_hash(name) }
    }

    fn as_str(&self) -> &str {
        match self.name {
            KeyName::Static(s) => s,
            KeyName::Borrowed(s) => s,
        }
    }
}

impl Doc {
    /// The top-level object.
    pub const ROOT: Obj = Obj(0);

    pub fn new() -> Self {
        Doc::with_capacity(32, 512)
    }

    /// A document with room for `nodes` members and `text` bytes of strings.
    pub fn with_capacity(nodes: usize, text: usize) -> Self {
        let mut v = Vec::with_capacity(nodes.max(1));
        v.push(Node { key: Key::Static(""), value: Slot::Object(NONE, NONE), next: NONE, hash: 0, mask: 0 });
        Doc { nodes: v, text: String::with_capacity(text), values: Vec::new(), value: OnceLock::new() }
    }

    fn key_str(&self, key: &Key) -> &str {
        match *key {
            Key::Static(s) => s,
            Key::Arena(start, len) => self.span(start, len),
        }
    }

    /// The arena text at `start`, `len` (computed in `usize`: no wrap-around).
    fn span(&self, start: u32, len: u32) -> &str {
        let start = start as usize;
        &self.text[start..start + len as usize]
    }

    fn push_text(&mut self, s: &str) -> (u32, u32) {
        let start = self.text.len();
        self.text.push_str(s);
        // The arena holds copies of one record's values, and every input path caps a
        // record far below 4 GiB (Tetragon 16 MiB, ingest bodies and lines less).
        (
            u32::try_from(start).expect("a document's text is under 4 GiB"),
            u32::try_from(s.len()).expect("a document's text is under 4 GiB"),
        )
    }

    fn members(&self, obj: Obj) -> (u32, u32) {
        match self.nodes[obj.0 as usize].value {
            Slot::Object(first, last) => (first, last),
            _ => (NONE, NONE),
        }
    }

    fn find(&self, obj: Obj, key: &str) -> Option<u32> {
        let hash = key_hash(key);
        self.find_hashed(obj, key, hash)
    }

    #[inline]
    fn find_hashed(&self, obj: Obj, key: &str, hash: u32) -> Option<u32> {
        if self.nodes[obj.0 as usize].mask & mask_bit(hash) == 0 {
            return None;
        }
        self.walk_members(obj, key, hash)
    }

    /// The member `key` of `obj`, by walking the members (the mask said it may be
    /// there).
    fn walk_members(&self, obj: Obj, key: &str, hash: u32) -> Option<u32> {
        let (mut at, _) = self.members(obj);
        while at != NONE {
            let node = &self.nodes[at as usize];
            if node.hash == hash && self.key_str(&node.key) == key {
                return Some(at);
            }
            at = node.next;
        }
        None
    }

    /// Stores `value` under `key` of `obj`: replaces the member's value in place when
    /// the key exists, or appends a member.
    fn store(&mut self, obj: Obj, key: KeyRef<'_>, value: Slot) -> u32 {
        let hash = key.hash;
        let bit = mask_bit(hash);
        let parent = obj.0 as usize;
        // Most stores add a member, which the mask tells without a walk.
        if self.nodes[parent].mask & bit != 0 {
            if let Some(at) = self.walk_members(obj, key.as_str(), hash) {
                self.replace(at, value);
                return at;
            }
        }
        self.append(obj, key, value)
    }

    /// Replaces the value of the member node `at`.
    fn replace(&mut self, at: u32, value: Slot) {
        if self.value.get().is_some() {
            self.value = OnceLock::new();
        }
        // A replaced object's members stay in the arena, unreachable.
        self.nodes[at as usize].value = value;
        self.nodes[at as usize].mask = 0;
    }

    /// Adds the member `key` (known not to be there) to `obj`.
    #[inline(always)]
    fn append(&mut self, obj: Obj, key: KeyRef<'_>, value: Slot) -> u32 {
        if self.value.get().is_some() {
            self.value = OnceLock::new();
        }
        let (hash, bit, parent) = (key.hash, mask_bit(key.hash), obj.0 as usize);
        let key = match key.name {
            KeyName::Static(s) => Key::Static(s),
            KeyName::Borrowed(s) => {
                let (start, len) = self.push_text(s);
                Key::Arena(start, len)
            }
        };
        let at = u32::try_from(self.nodes.len()).expect("fewer than 2^32 members");
        self.nodes.push(Node { key, value, next: NONE, hash, mask: 0 });
        self.nodes[parent].mask |= bit;
        match self.nodes[parent].value {
            Slot::Object(first, last) => {
                if first == NONE {
                    self.nodes[parent].value = Slot::Object(at, at);
                } else {
                    self.nodes[last as usize].next = at;
                    self.nodes[parent].value = Slot::Object(first, at);
                }
            }
            _ => unreachable!("Obj handles only name objects"),
        }
        at
    }

    fn json_slot(&mut self, value: Value) -> Slot {
        self.values.push(value);
        Slot::Json(u32::try_from(self.values.len() - 1).expect("fewer than 2^32 values"))
    }

    fn put_str(&mut self, obj: Obj, key: KeyRef<'_>, s: &str) {
        let (start, len) = self.push_text(s);
        self.store(obj, key, Slot::Str(start, len));
    }

    /// Stores the concatenation of `parts` (a command line from binary and
    /// arguments) without building it first.
    #[doc(hidden)]
    pub fn put_joined(&mut self, obj: Obj, key: KeyRef<'_>, parts: &[&str]) {
        let start = self.text.len();
        for part in parts {
            self.text.push_str(part);
        }
        let len = self.text.len() - start;
        let slot = Slot::Str(
            u32::try_from(start).expect("a document's text is under 4 GiB"),
            u32::try_from(len).expect("a document's text is under 4 GiB"),
        );
        self.store(obj, key, slot);
    }

    /// The object at a dotted path from the top, created (with the objects on the way)
    /// when needed.
    pub fn object_path(&mut self, path: &'static str) -> Obj {
        let (obj, last) = self.parents_of(path);
        self.object(obj, last)
    }

    /// The object holding the last part of a dotted path (created with the objects on
    /// the way when needed), and that last part. A byte loop: the paths are short, and
    /// `str::split` cost more than the member stores.
    fn parents_of(&mut self, path: &'static str) -> (Obj, &'static str) {
        let mut obj = Doc::ROOT;
        let mut rest = path;
        while let Some(dot) = rest.bytes().position(|b| b == b'.') {
            obj = self.object(obj, &rest[..dot]);
            rest = &rest[dot + 1..];
        }
        (obj, rest)
    }

    /// The object under `key` of `obj`, created (replacing a non-object value) when
    /// needed.
    #[inline]
    pub fn object(&mut self, obj: Obj, key: &'static str) -> Obj {
        self.object_at(obj, KeyRef::fixed(key))
    }

    fn object_at(&mut self, obj: Obj, key: KeyRef<'_>) -> Obj {
        // One lookup: the member is an object, another value to replace, or new.
        match self.find_hashed(obj, key.as_str(), key.hash) {
            Some(at) if matches!(self.nodes[at as usize].value, Slot::Object(..)) => Obj(at),
            Some(at) => {
                self.replace(at, Slot::Object(NONE, NONE));
                Obj(at)
            }
            None => Obj(self.append(obj, key, Slot::Object(NONE, NONE))),
        }
    }

    /// Sets `key` of `obj` to `value`, unless the value is null (OCSF omits unknown
    /// attributes).
    #[inline]
    pub fn put(&mut self, obj: Obj, key: &'static str, value: impl DocValue) {
        if !value.is_null() {
            value.put(self, obj, KeyRef::fixed(key));
        }
    }

    /// [`Doc::put`] with a key that is not a literal (copied into the arena).
    pub fn put_owned_key(&mut self, obj: Obj, key: &str, value: impl DocValue) {
        if !value.is_null() {
            value.put(self, obj, KeyRef::borrowed(key));
        }
    }

    /// Sets the value at a dotted path from the top (`"actor.user.name"`), creating
    /// objects on the way; a null value is not written.
    pub fn set(&mut self, path: &'static str, value: impl DocValue) {
        if value.is_null() {
            return;
        }
        let (obj, last) = self.parents_of(path);
        value.put(self, obj, KeyRef::fixed(last));
    }

    /// [`Doc::set`] for a path that is not a literal.
    pub fn set_owned_path(&mut self, path: &str, value: impl DocValue) {
        if value.is_null() {
            return;
        }
        let mut obj = Doc::ROOT;
        let mut parts = path.split('.').peekable();
        while let Some(part) = parts.next() {
            if parts.peek().is_none() {
                value.put(self, obj, KeyRef::borrowed(part));
                return;
            }
            obj = self.object_at(obj, KeyRef::borrowed(part));
        }
    }

    /// Sets a top-level member, null included (the Sigma view keeps explicit nulls:
    /// `field: null` in a rule tests for them).
    #[inline]
    pub fn insert(&mut self, key: &'static str, value: impl DocValue) {
        value.put(self, Doc::ROOT, KeyRef::fixed(key));
    }

    /// [`Doc::insert`] with a key that is not a literal.
    pub fn insert_owned_key(&mut self, key: &str, value: impl DocValue) {
        value.put(self, Doc::ROOT, KeyRef::borrowed(key));
    }

    /// Removes a top-level member (and returns whether it was there).
    pub fn remove(&mut self, key: &str) -> bool {
        let (mut at, _) = self.members(Doc::ROOT);
        let mut prev = NONE;
        while at != NONE {
            if self.key_str(&self.nodes[at as usize].key) == key {
                self.value = OnceLock::new();
                let next = self.nodes[at as usize].next;
                let (first, last) = self.members(Doc::ROOT);
                let first = if prev == NONE { next } else { first };
                if prev != NONE {
                    self.nodes[prev as usize].next = next;
                }
                let last = if last == at { prev } else { last };
                self.nodes[0].value = Slot::Object(first, if first == NONE { NONE } else { last });
                return true;
            }
            prev = at;
            at = self.nodes[at as usize].next;
        }
        false
    }

    fn field_of(&self, at: u32) -> Field<'_> {
        match &self.nodes[at as usize].value {
            Slot::Null => Field::Null,
            Slot::Bool(b) => Field::Bool(*b),
            Slot::U64(n) => Field::U64(*n),
            Slot::I64(n) => Field::I64(*n),
            Slot::F64(n) => Field::F64(*n),
            Slot::Str(start, len) => Field::Str(self.span(*start, *len)),
            Slot::Json(i) => Field::Json(&self.values[*i as usize]),
            Slot::Object(..) => Field::Object(Obj(at)),
        }
    }

    /// The member `key` of `obj`.
    pub fn member(&self, obj: Obj, key: &str) -> Option<Field<'_>> {
        self.find(obj, key).map(|at| self.field_of(at))
    }

    /// The value at a dotted path from the top (`"device.hostname"`); without
    /// allocating.
    pub fn field(&self, path: &str) -> Option<Field<'_>> {
        let mut obj = Doc::ROOT;
        let mut parts = path.split('.').peekable();
        while let Some(part) = parts.next() {
            let at = self.find(obj, part)?;
            if parts.peek().is_none() {
                return Some(self.field_of(at));
            }
            match self.nodes[at as usize].value {
                Slot::Object(..) => obj = Obj(at),
                _ => return None,
            }
        }
        None
    }

    /// A top-level member by its exact name (names may contain dots in the Sigma view).
    pub fn top(&self, key: &str) -> Option<Field<'_>> {
        self.member(Doc::ROOT, key)
    }

    /// The string at a dotted path, if it is one.
    pub fn str_field(&self, path: &str) -> Option<&str> {
        self.field(path).and_then(Field::as_str)
    }

    /// Whether the top-level object has the member `key`.
    pub fn contains_key(&self, key: &str) -> bool {
        self.find(Doc::ROOT, key).is_some()
    }

    /// Whether the top-level object has no member.
    pub fn is_empty(&self) -> bool {
        self.members(Doc::ROOT).0 == NONE
    }

    /// The number of top-level members.
    pub fn len(&self) -> usize {
        self.iter_members(Doc::ROOT).count()
    }

    fn iter_members(&self, obj: Obj) -> impl Iterator<Item = u32> + '_ {
        let (first, _) = self.members(obj);
        std::iter::successors(Some(first).filter(|&a| a != NONE), move |&a| {
            Some(self.nodes[a as usize].next).filter(|&n| n != NONE)
        })
    }

    /// Top-level member names and values, in order.
    pub fn entries(&self) -> impl Iterator<Item = (&str, Field<'_>)> + '_ {
        self.iter_members(Doc::ROOT).map(|at| (self.key_str(&self.nodes[at as usize].key), self.field_of(at)))
    }

    fn value_of(&self, at: u32) -> Value {
        match &self.nodes[at as usize].value {
            Slot::Null => Value::Null,
            Slot::Bool(b) => Value::Bool(*b),
            Slot::U64(n) => Value::from(*n),
            Slot::I64(n) => Value::from(*n),
            Slot::F64(n) => Value::from(*n),
            Slot::Str(start, len) => Value::String(self.span(*start, *len).to_owned()),
            Slot::Json(i) => self.values[*i as usize].clone(),
            Slot::Object(..) => Value::Object(self.map_of(Obj(at))),
        }
    }

    fn map_of(&self, obj: Obj) -> Map<String, Value> {
        self.iter_members(obj)
            .map(|at| (self.key_str(&self.nodes[at as usize].key).to_owned(), self.value_of(at)))
            .collect()
    }

    /// The document as a `serde_json` map (allocates the whole tree).
    pub fn to_map(&self) -> Map<String, Value> {
        self.map_of(Doc::ROOT)
    }

    /// The document as a `serde_json::Value`, built once and cached. For tests and rare
    /// readers; hot paths use [`Doc::field`].
    pub fn as_value(&self) -> &Value {
        self.value.get_or_init(|| Box::new(Value::Object(self.to_map())))
    }

    /// The compact JSON text of the document.
    pub fn to_json_string(&self) -> String {
        // Every value is serializable (floats that are not finite were stored as null),
        // and serde_json's own string writer skips a second UTF-8 check.
        serde_json::to_string(self).expect("a Doc serializes")
    }
}

/// Serializes one object of a doc.
struct ObjectRef<'d> {
    doc: &'d Doc,
    obj: Obj,
}

/// Serializes one member value of a doc.
struct SlotRef<'d> {
    doc: &'d Doc,
    at: u32,
}

impl Serialize for ObjectRef<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        for at in self.doc.iter_members(self.obj) {
            map.serialize_entry(self.doc.key_str(&self.doc.nodes[at as usize].key), &SlotRef { doc: self.doc, at })?;
        }
        map.end()
    }
}

impl Serialize for SlotRef<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match &self.doc.nodes[self.at as usize].value {
            Slot::Null => serializer.serialize_unit(),
            Slot::Bool(b) => serializer.serialize_bool(*b),
            Slot::U64(n) => serializer.serialize_u64(*n),
            Slot::I64(n) => serializer.serialize_i64(*n),
            Slot::F64(n) => serializer.serialize_f64(*n),
            Slot::Str(start, len) => serializer.serialize_str(self.doc.span(*start, *len)),
            Slot::Json(i) => self.doc.values[*i as usize].serialize(serializer),
            Slot::Object(..) => ObjectRef { doc: self.doc, obj: Obj(self.at) }.serialize(serializer),
        }
    }
}

impl Serialize for Doc {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        ObjectRef { doc: self, obj: Doc::ROOT }.serialize(serializer)
    }
}

impl fmt::Debug for Doc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_json_string())
    }
}

/// Equal when the JSON they stand for is equal (arena layout aside).
impl PartialEq for Doc {
    fn eq(&self, other: &Self) -> bool {
        self.as_value() == other.as_value()
    }
}

impl From<Map<String, Value>> for Doc {
    fn from(map: Map<String, Value>) -> Self {
        let mut doc = Doc::new();
        for (k, v) in map {
            doc.insert_owned_key(&k, v);
        }
        doc
    }
}

impl std::ops::Index<&str> for Doc {
    type Output = Value;

    /// `doc["key"]`: the materialized member (`Value::Null` when absent), for tests.
    fn index(&self, key: &str) -> &Value {
        &self.as_value()[key]
    }
}

impl DocValue for &str {
    fn put(self, doc: &mut Doc, obj: Obj, key: KeyRef<'_>) {
        doc.put_str(obj, key, self);
    }
}

impl DocValue for &String {
    fn put(self, doc: &mut Doc, obj: Obj, key: KeyRef<'_>) {
        doc.put_str(obj, key, self);
    }
}

impl DocValue for String {
    fn put(self, doc: &mut Doc, obj: Obj, key: KeyRef<'_>) {
        doc.put_str(obj, key, &self);
    }
}

impl DocValue for std::borrow::Cow<'_, str> {
    fn put(self, doc: &mut Doc, obj: Obj, key: KeyRef<'_>) {
        doc.put_str(obj, key, &self);
    }
}

impl DocValue for bool {
    fn put(self, doc: &mut Doc, obj: Obj, key: KeyRef<'_>) {
        doc.store(obj, key, Slot::Bool(self));
    }
}

macro_rules! unsigned {
    ($($t:ty),*) => {$(
        impl DocValue for $t {
            fn put(self, doc: &mut Doc, obj: Obj, key: KeyRef<'_>) {
                doc.store(obj, key, Slot::U64(u64::from(self)));
            }
        }
    )*};
}
unsigned!(u8, u16, u32, u64);

impl DocValue for usize {
    fn put(self, doc: &mut Doc, obj: Obj, key: KeyRef<'_>) {
        doc.store(obj, key, Slot::U64(self as u64));
    }
}

macro_rules! signed {
    ($($t:ty),*) => {$(
        impl DocValue for $t {
            fn put(self, doc: &mut Doc, obj: Obj, key: KeyRef<'_>) {
                let v = i64::from(self);
                // Non-negative integers are stored as u64, as serde_json does, so that a
                // value compares equal however it was given.
                let slot = u64::try_from(v).map_or(Slot::I64(v), Slot::U64);
                doc.store(obj, key, slot);
            }
        }
    )*};
}
signed!(i8, i16, i32, i64);

impl DocValue for f64 {
    fn put(self, doc: &mut Doc, obj: Obj, key: KeyRef<'_>) {
        // JSON has no NaN or infinity: serde_json turns them into null, so do we.
        doc.store(obj, key, if self.is_finite() { Slot::F64(self) } else { Slot::Null });
    }
}

impl DocValue for Value {
    fn put(self, doc: &mut Doc, obj: Obj, key: KeyRef<'_>) {
        match self {
            Value::Null => {
                doc.store(obj, key, Slot::Null);
            }
            Value::Bool(b) => b.put(doc, obj, key),
            Value::Number(n) => {
                let slot = if let Some(u) = n.as_u64() {
                    Slot::U64(u)
                } else if let Some(i) = n.as_i64() {
                    Slot::I64(i)
                } else {
                    doc.json_slot(Value::Number(n))
                };
                doc.store(obj, key, slot);
            }
            Value::String(s) => doc.put_str(obj, key, &s),
            Value::Array(_) => {
                let slot = doc.json_slot(self);
                doc.store(obj, key, slot);
            }
            Value::Object(map) => {
                // Members become nodes, so later dotted sets below this key merge into
                // the object instead of replacing it.
                let child = Obj(doc.store(obj, key, Slot::Object(NONE, NONE)));
                for (k, v) in map {
                    v.put(doc, child, KeyRef::borrowed(&k));
                }
            }
        }
    }

    fn is_null(&self) -> bool {
        Value::is_null(self)
    }
}

impl DocValue for &Value {
    fn put(self, doc: &mut Doc, obj: Obj, key: KeyRef<'_>) {
        match self {
            Value::String(s) => doc.put_str(obj, key, s),
            Value::Object(map) => {
                let child = Obj(doc.store(obj, key, Slot::Object(NONE, NONE)));
                for (k, v) in map {
                    v.put(doc, child, KeyRef::borrowed(k));
                }
            }
            other => other.clone().put(doc, obj, key),
        }
    }

    fn is_null(&self) -> bool {
        Value::is_null(self)
    }
}

impl<T: DocValue> DocValue for Option<T> {
    fn put(self, doc: &mut Doc, obj: Obj, key: KeyRef<'_>) {
        match self {
            Some(v) => v.put(doc, obj, key),
            None => {
                doc.store(obj, key, Slot::Null);
            }
        }
    }

    fn is_null(&self) -> bool {
        self.as_ref().is_none_or(DocValue::is_null)
    }
}

/// Copies a field of one doc into another (the Sigma view repeating an OCSF value).
impl DocValue for Field<'_> {
    fn put(self, doc: &mut Doc, obj: Obj, key: KeyRef<'_>) {
        match self {
            Field::Null => {
                doc.store(obj, key, Slot::Null);
            }
            Field::Bool(b) => b.put(doc, obj, key),
            Field::U64(n) => n.put(doc, obj, key),
            Field::I64(n) => n.put(doc, obj, key),
            Field::F64(n) => n.put(doc, obj, key),
            Field::Str(s) => doc.put_str(obj, key, s),
            Field::Json(v) => v.put(doc, obj, key),
            // Objects of another doc have no meaning here; callers copy leaves.
            Field::Object(_) => {
                doc.store(obj, key, Slot::Null);
            }
        }
    }

    fn is_null(&self) -> bool {
        matches!(self, Field::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn set_creates_objects_skips_null_and_keeps_insertion_order() {
        let mut d = Doc::new();
        d.set("class_uid", 1007u32);
        d.set("actor.user.name", "root");
        d.set("actor.user.uid", Value::Null);
        d.set("metadata.product.name", "Tetragon");
        d.set("actor.process.pid", 42u64);
        d.set("class_uid", 1008u32); // replaces in place
        assert_eq!(
            d.to_json_string(),
            r#"{"class_uid":1008,"actor":{"user":{"name":"root"},"process":{"pid":42}},"metadata":{"product":{"name":"Tetragon"}}}"#
        );
        assert_eq!(d.str_field("actor.user.name"), Some("root"));
        assert_eq!(d.field("actor.process.pid").and_then(Field::as_u64), Some(42));
        assert_eq!(d.field("actor.nope"), None);
        assert_eq!(d["actor"]["user"]["name"], "root");
    }

    #[test]
    fn values_inserted_as_objects_merge_with_later_paths() {
        let mut d = Doc::new();
        d.set("metadata", json!({"version": "1.3.0", "product": {"name": "X"}}));
        d.set("metadata.event_code", "4625");
        d.set("metadata.product.vendor_name", "V");
        assert_eq!(
            d.as_value(),
            &json!({"metadata": {"version": "1.3.0", "product": {"name": "X", "vendor_name": "V"}, "event_code": "4625"}})
        );
    }

    #[test]
    fn insert_keeps_nulls_and_dotted_names_literally() {
        let mut d = Doc::new();
        d.insert("objectRef.resource", "pods");
        d.insert("Image", Option::<&str>::None);
        d.insert_owned_key(&String::from("k"), 1i64);
        d.insert("neg", -5i32);
        assert_eq!(d.to_json_string(), r#"{"objectRef.resource":"pods","Image":null,"k":1,"neg":-5}"#);
        assert_eq!(d.top("objectRef.resource").and_then(Field::as_str), Some("pods"));
        assert!(d.remove("Image"));
        assert!(!d.contains_key("Image"));
        assert!(d.remove("neg"));
        d.insert("after", true);
        assert_eq!(d.to_json_string(), r#"{"objectRef.resource":"pods","k":1,"after":true}"#);
    }

    #[test]
    fn replacing_an_object_with_a_leaf_and_back() {
        let mut d = Doc::new();
        d.set("a.b", 1u8);
        d.set("a", "leaf");
        d.set("a.c", 2u8);
        assert_eq!(d.as_value(), &json!({"a": {"c": 2}}));
    }

    #[test]
    fn strings_are_escaped_and_non_finite_floats_are_null() {
        let mut d = Doc::new();
        d.insert("s", "a\"b\\c\n</script>");
        d.insert("f", f64::NAN);
        d.insert("g", 1.5f64);
        let text = d.to_json_string();
        assert_eq!(
            serde_json::from_str::<Value>(&text).unwrap(),
            json!({"s": "a\"b\\c\n</script>", "f": null, "g": 1.5})
        );
    }

    fn json_leaf() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            ".{0,8}".prop_map(Value::from),
        ]
    }

    proptest! {
        /// A doc built by setting paths serializes to the same JSON as a
        /// `serde_json::Map` built by the same sequence of operations (the semantics
        /// `ocsf::set` had before docs).
        #[test]
        fn doc_matches_an_insertion_ordered_map(ops in proptest::collection::vec(
            (proptest::sample::select(vec!["a", "b", "a.x", "a.y", "b.x.z", "c", "a.x.q"]), json_leaf()), 0..24)
        ) {
            fn map_set(map: &mut Map<String, Value>, path: &str, value: Value) {
                if value.is_null() { return; }
                let mut m = map;
                let mut parts = path.split('.').peekable();
                while let Some(part) = parts.next() {
                    if parts.peek().is_none() { m.insert(part.to_owned(), value); return; }
                    if !m.get(part).is_some_and(Value::is_object) { m.insert(part.to_owned(), Value::Object(Map::new())); }
                    m = m.get_mut(part).and_then(Value::as_object_mut).unwrap();
                }
            }
            let mut doc = Doc::new();
            let mut map = Map::new();
            for (path, value) in ops {
                doc.set(path, value.clone());
                map_set(&mut map, path, value);
            }
            prop_assert_eq!(doc.to_json_string(), serde_json::to_string(&map).unwrap());
            prop_assert_eq!(doc.as_value(), &Value::Object(map));
        }
    }
}

//! A hand-written reader of the JSON export into the typed model (`model.rs`), for the
//! common case: well-formed records. It builds exactly the model the serde reader
//! would (same members, same types, same duplicate and `null` rules), or declines with
//! [`Decline`] and the caller runs the serde reader, whose result (event or error
//! message) then stands. Declining is always safe, so anything unusual — an escaped
//! member name, a number with a fraction where an integer is wanted, a wrong type,
//! deep nesting — simply declines instead of imitating serde_json's error.
//!
//! Why: serde_json's generic machinery (visitors, `Option` wrappers, field identifier
//! strings, per-string scratch handling) was half of a Tetragon event's decode cost;
//! this reader walks the bytes once with the member names known up front.

use std::borrow::Cow;

use super::model::{
    Arg, ArgValue, Body, Capabilities, EnumName, Envelope, KernelModule, KprobeBpfAttr, KprobeBpfMap, KprobeCapability,
    KprobeError, KprobeNetDev, KprobePath, KprobePerfEvent, KprobeSkb, KprobeSock, KprobeSockaddr, KprobeSockaddrUn,
    KprobeTruncatedBytes, KprobeUserNamespace, Labels, LegacyKind, ProcessCredentials, SyscallId, Text, UserNamespace,
    I32, I64, U32, U64,
};

/// The fast reader gives the record to the serde reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Decline;

pub(crate) type Fast<T> = Result<T, Decline>;

/// Nesting this reader follows before declining: below serde_json's recursion limit
/// (128), so a record it accepts is never one serde_json would refuse for depth.
const MAX_DEPTH: u32 = 100;

/// Bytes that end the plain run of a JSON string: `"`, `\` and the control characters
/// JSON forbids unescaped.
static STRING_STOP: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = true;
        i += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

/// The index of the first byte at or after `at` that ends a string's plain run
/// ([`STRING_STOP`]), or `bytes.len()`. Strings are most of a record's bytes (about a
/// hundred per event, half of them member names), and a byte-a-step loop was a quarter
/// of the decode: sixteen bytes a step with SSE2 while sixteen remain, then eight a
/// step (SWAR), then byte by byte.
#[inline]
fn plain_run_end(bytes: &[u8], at: usize) -> usize {
    #[cfg(target_arch = "x86_64")]
    let at = {
        let mut at = at;
        while at + 16 <= bytes.len() {
            let stops = sse2_stops(bytes, at);
            if stops != 0 {
                return at + stops.trailing_zeros() as usize;
            }
            at += 16;
        }
        at
    };
    plain_run_end_swar(bytes, at)
}

/// One bit per byte of `bytes[at..at + 16]` that is in [`STRING_STOP`] (bit 0 for the
/// byte at `at`). The caller makes sure sixteen bytes are there.
#[cfg(target_arch = "x86_64")]
#[inline]
fn sse2_stops(bytes: &[u8], at: usize) -> u32 {
    use std::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8, _mm_setzero_si128,
        _mm_subs_epu8,
    };
    assert!(at + 16 <= bytes.len());
    // SAFETY: SSE2 is part of the x86_64 baseline, so the intrinsics are always
    // available; the unaligned load reads `bytes[at..at + 16]`, in bounds by the
    // assertion above.
    let mask = unsafe {
        let x = _mm_loadu_si128(bytes.as_ptr().add(at).cast());
        let quote = _mm_cmpeq_epi8(x, _mm_set1_epi8(b'"' as i8));
        let backslash = _mm_cmpeq_epi8(x, _mm_set1_epi8(b'\\' as i8));
        // Unsigned `x - 0x1f` saturates to zero exactly for the bytes below 0x20.
        let control = _mm_cmpeq_epi8(_mm_subs_epu8(x, _mm_set1_epi8(0x1f)), _mm_setzero_si128());
        _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quote, backslash), control))
    };
    mask as u32
}

/// [`plain_run_end`] eight bytes a step (SWAR, Mycroft's zero-byte test), then byte by
/// byte: the portable form, and the tail of the SSE2 one.
#[inline]
fn plain_run_end_swar(bytes: &[u8], mut at: usize) -> usize {
    const ONES: u64 = u64::MAX / 255;
    const HIGH: u64 = ONES * 0x80;
    while let Some(chunk) = bytes.get(at..at + 8) {
        let x = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
        let quote = x ^ (ONES * u64::from(b'"'));
        let backslash = x ^ (ONES * u64::from(b'\\'));
        // A byte's high bit is set for a byte below 0x20, a quote or a backslash. Only
        // the lowest flag is exact (borrows run upwards), and only the lowest is used.
        let flags = (x.wrapping_sub(ONES * 0x20) | quote.wrapping_sub(ONES) | backslash.wrapping_sub(ONES)) & !x & HIGH;
        // `!x` clears bytes >= 0x80 (UTF-8 continuation and lead bytes): they stop
        // nothing, and for the quote and backslash tests `!quote`'s high bit equals
        // `!x`'s, as both bytes are ASCII.
        if flags != 0 {
            return at + (flags.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    while at < bytes.len() && !STRING_STOP[bytes[at] as usize] {
        at += 1;
    }
    at
}

/// A position in one JSON text.
pub(crate) struct Cursor<'a> {
    text: &'a str,
    pos: usize,
    depth: u32,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        Cursor { text, pos: 0, depth: 0 }
    }

    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    /// Skips JSON whitespace and returns the next byte.
    #[inline]
    fn peek(&mut self) -> Fast<u8> {
        // Compact records have no whitespace between tokens: one compare says so.
        match self.bytes().get(self.pos) {
            Some(&b) if b > b' ' => Ok(b),
            _ => self.peek_past_whitespace(),
        }
    }

    fn peek_past_whitespace(&mut self) -> Fast<u8> {
        let bytes = self.bytes();
        while let Some(&b) = bytes.get(self.pos) {
            if !matches!(b, b' ' | b'\n' | b'\r' | b'\t') {
                return Ok(b);
            }
            self.pos += 1;
        }
        Err(Decline)
    }

    #[inline]
    fn expect(&mut self, byte: u8) -> Fast<()> {
        if self.peek()? == byte {
            self.pos += 1;
            Ok(())
        } else {
            Err(Decline)
        }
    }

    /// Whether only whitespace is left (serde_json refuses trailing characters).
    pub(crate) fn at_end(&mut self) -> bool {
        self.peek().is_err()
    }

    fn literal(&mut self, word: &[u8]) -> Fast<()> {
        if self.bytes()[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(Decline)
        }
    }

    /// Consumes a `null` if one comes next.
    #[inline]
    fn null(&mut self) -> Fast<bool> {
        if self.peek()? == b'n' {
            self.literal(b"null")?;
            Ok(true)
        } else {
            Ok(false)
        }
    }

    /// Reads the string starting at the current byte (`"`): its span without the
    /// quotes, and whether it has escapes. Escapes are checked as serde_json checks a
    /// string it skips (a known escape letter, four hex digits after `\u`).
    #[inline]
    fn string_span(&mut self) -> Fast<(usize, usize, bool)> {
        if self.peek()? != b'"' {
            return Err(Decline);
        }
        let bytes = self.bytes();
        let start = self.pos + 1;
        let mut at = start;
        let mut escaped = false;
        loop {
            at = plain_run_end(bytes, at);
            match bytes.get(at) {
                Some(b'"') => {
                    self.pos = at + 1;
                    return Ok((start, at, escaped));
                }
                Some(b'\\') => {
                    escaped = true;
                    match bytes.get(at + 1) {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => at += 2,
                        Some(b'u') => {
                            let hex = bytes.get(at + 2..at + 6).ok_or(Decline)?;
                            if !hex.iter().all(u8::is_ascii_hexdigit) {
                                return Err(Decline);
                            }
                            at += 6;
                        }
                        _ => return Err(Decline),
                    }
                }
                // A control character, or the end of the text.
                _ => return Err(Decline),
            }
        }
    }

    /// A string value: borrowed when it has no escapes; otherwise unescaped by
    /// serde_json itself (rare), so surrogate handling is exactly serde_json's.
    #[inline]
    fn text(&mut self) -> Fast<Text<'a>> {
        let (start, end, escaped) = self.string_span()?;
        if !escaped {
            return Ok(Text(Cow::Borrowed(&self.text[start..end])));
        }
        let quoted = &self.text[start - 1..end + 1];
        serde_json::from_str::<String>(quoted).map(|s| Text(Cow::Owned(s))).map_err(|_| Decline)
    }

    /// A member name without escapes (an escaped name declines).
    #[inline]
    fn key(&mut self) -> Fast<&'a str> {
        let (start, end, escaped) = self.string_span()?;
        if escaped {
            return Err(Decline);
        }
        // `start` and `end` are next to quotes, so on character boundaries.
        let key = &self.text[start..end];
        self.expect(b':')?;
        Ok(key)
    }

    fn enter(&mut self) -> Fast<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Decline);
        }
        Ok(())
    }

    /// Walks an object, calling `member` with each name; `member` must consume the
    /// value.
    #[inline]
    pub(crate) fn object(&mut self, mut member: impl FnMut(&mut Self, &'a str) -> Fast<()>) -> Fast<()> {
        self.container(b'{', b'}', |c| {
            let key = c.key()?;
            member(c, key)
        })
    }

    /// Walks an array, calling `element` for each element (which it must consume).
    fn array(&mut self, element: impl FnMut(&mut Self) -> Fast<()>) -> Fast<()> {
        self.container(b'[', b']', element)
    }

    /// The walk both share: `open`, items separated by commas, `close`.
    #[inline]
    fn container(&mut self, open: u8, close: u8, mut item: impl FnMut(&mut Self) -> Fast<()>) -> Fast<()> {
        self.expect(open)?;
        self.enter()?;
        if self.peek()? == close {
            self.pos += 1;
            self.depth -= 1;
            return Ok(());
        }
        loop {
            item(self)?;
            match self.peek()? {
                b',' => self.pos += 1,
                c if c == close => {
                    self.pos += 1;
                    self.depth -= 1;
                    return Ok(());
                }
                _ => return Err(Decline),
            }
        }
    }

    /// Skips one value, checking its syntax as serde_json's `IgnoredAny` does.
    pub(crate) fn skip(&mut self) -> Fast<()> {
        match self.peek()? {
            b'"' => self.string_span().map(drop),
            b'{' => self.object(|c, _| c.skip()),
            b'[' => self.array(Cursor::skip),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => self.skip_number(),
            _ => Err(Decline),
        }
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
    fn skip_number(&mut self) -> Fast<()> {
        let bytes = self.bytes();
        let mut at = self.pos;
        if bytes.get(at) == Some(&b'-') {
            at += 1;
        }
        let digits = |at: &mut usize| {
            let from = *at;
            while bytes.get(*at).is_some_and(u8::is_ascii_digit) {
                *at += 1;
            }
            *at - from
        };
        match bytes.get(at) {
            Some(b'0') => at += 1,
            Some(b'1'..=b'9') => {
                digits(&mut at);
            }
            _ => return Err(Decline),
        }
        if bytes.get(at) == Some(&b'.') {
            at += 1;
            if digits(&mut at) == 0 {
                return Err(Decline);
            }
        }
        if matches!(bytes.get(at), Some(b'e' | b'E')) {
            at += 1;
            if matches!(bytes.get(at), Some(b'+' | b'-')) {
                at += 1;
            }
            if digits(&mut at) == 0 {
                return Err(Decline);
            }
        }
        self.pos = at;
        Ok(())
    }

    /// An integer written as a JSON number: `(negative, magnitude)`. Fractions,
    /// exponents, leading zeros, `-0` and magnitudes past `u64` decline (serde_json reads
    /// those as floats or refuses them, and the model takes neither).
    fn integer(&mut self) -> Fast<(bool, u64)> {
        let bytes = self.bytes();
        let mut at = self.pos;
        let negative = bytes.get(at) == Some(&b'-');
        if negative {
            at += 1;
        }
        let first = at;
        let mut n: u64 = 0;
        while let Some(&b) = bytes.get(at).filter(|b| b.is_ascii_digit()) {
            n = n.checked_mul(10).and_then(|n| n.checked_add(u64::from(b - b'0'))).ok_or(Decline)?;
            at += 1;
        }
        let len = at - first;
        // serde_json reads `-0` as the float -0.0, which no integer member takes.
        if len == 0
            || (len > 1 && bytes[first] == b'0')
            || (negative && n == 0)
            || matches!(bytes.get(at), Some(b'.' | b'e' | b'E'))
        {
            return Err(Decline);
        }
        self.pos = at;
        Ok((negative, n))
    }
}

/// A model value the fast reader builds.
pub(crate) trait FastRead<'a>: Sized {
    fn read(c: &mut Cursor<'a>) -> Fast<Self>;

    /// [`FastRead::read`] into `self` (a default value). Structs fill their members
    /// where they stand: a `Process` is over 600 bytes and an event body near 2 KiB, and
    /// returning and wrapping them by value copied them at every level.
    #[inline]
    fn fill(&mut self, c: &mut Cursor<'a>) -> Fast<()> {
        *self = Self::read(c)?;
        Ok(())
    }

    /// [`FastRead::read`] into an empty member slot.
    #[inline]
    fn read_into(c: &mut Cursor<'a>, slot: &mut Option<Self>) -> Fast<()> {
        *slot = Some(Self::read(c)?);
        Ok(())
    }

    /// Accepts exactly what [`FastRead::read`] accepts, without building the value: for
    /// members the normalizer never reads (`#[fast(check_only)]` in `model.rs`), which
    /// must still be refused as serde refuses them (a wrong type, a duplicate member).
    #[inline]
    fn check(c: &mut Cursor<'a>) -> Fast<()> {
        Self::read(c).map(drop)
    }

    /// Clears the `check_only` members in this value and the values it holds: the
    /// serde reader's model after this equals the fast reader's (for the tests and the
    /// differential fuzz target). Arguments are not visited: no struct an argument
    /// holds has `check_only` members.
    fn forget_unread(&mut self) {}
}

/// A member that may be `null` (every model member is an `Option`).
#[inline]
pub(crate) fn optional<'a, T: FastRead<'a>>(c: &mut Cursor<'a>) -> Fast<Option<T>> {
    if c.null()? {
        Ok(None)
    } else {
        T::read(c).map(Some)
    }
}

/// [`optional`] into the member's slot (empty: a repeated member declines before).
#[inline]
pub(crate) fn optional_into<'a, T: FastRead<'a>>(c: &mut Cursor<'a>, slot: &mut Option<T>) -> Fast<()> {
    if c.null()? {
        Ok(())
    } else {
        T::read_into(c, slot)
    }
}

impl<'a> FastRead<'a> for Text<'a> {
    #[inline]
    fn read(c: &mut Cursor<'a>) -> Fast<Self> {
        c.text()
    }
}

impl<'a> FastRead<'a> for bool {
    fn read(c: &mut Cursor<'a>) -> Fast<Self> {
        match c.peek()? {
            b't' => c.literal(b"true").map(|()| true),
            b'f' => c.literal(b"false").map(|()| false),
            _ => Err(Decline),
        }
    }
}

/// The lenient integers: a JSON integer, or a string that `str::parse` accepts after
/// trimming (as the serde reader does).
macro_rules! fast_int {
    ($($name:ident($t:ty)),*) => {$(
        impl<'a> FastRead<'a> for $name {
            #[inline]
            fn read(c: &mut Cursor<'a>) -> Fast<Self> {
                if c.peek()? == b'"' {
                    let text = c.text()?;
                    return text.trim().parse::<$t>().map($name).map_err(|_| Decline);
                }
                let (negative, n) = c.integer()?;
                let value = if negative {
                    // serde_json reads `-n` as an i64 (so down to i64::MIN).
                    let v = 0i64.checked_sub_unsigned(n).ok_or(Decline)?;
                    <$t>::try_from(v).map_err(|_| Decline)?
                } else {
                    <$t>::try_from(n).map_err(|_| Decline)?
                };
                Ok($name(value))
            }
        }
    )*};
}
fast_int!(U32(u32), I32(i32), U64(u64), I64(i64));

impl<'a, T: FastRead<'a>> FastRead<'a> for Vec<T> {
    fn read(c: &mut Cursor<'a>) -> Fast<Self> {
        let mut out = Vec::new();
        c.array(|c| {
            out.push(T::read(c)?);
            Ok(())
        })?;
        Ok(out)
    }

    fn check(c: &mut Cursor<'a>) -> Fast<()> {
        c.array(T::check)
    }

    fn forget_unread(&mut self) {
        self.iter_mut().for_each(T::forget_unread);
    }
}

impl<'a, T: FastRead<'a>> FastRead<'a> for Box<T> {
    fn read(c: &mut Cursor<'a>) -> Fast<Self> {
        T::read(c).map(Box::new)
    }

    fn check(c: &mut Cursor<'a>) -> Fast<()> {
        T::check(c)
    }

    fn forget_unread(&mut self) {
        T::forget_unread(self);
    }
}

impl<'a> FastRead<'a> for Labels<'a> {
    fn read(c: &mut Cursor<'a>) -> Fast<Self> {
        let mut out = Vec::with_capacity(4);
        c.object(|c, key| {
            out.push((Text(Cow::Borrowed(key)), c.text()?));
            Ok(())
        })?;
        Ok(Labels(out))
    }

    fn check(c: &mut Cursor<'a>) -> Fast<()> {
        c.object(|c, _| c.text().map(drop))
    }
}

impl<'a> FastRead<'a> for EnumName<'a> {
    fn read(c: &mut Cursor<'a>) -> Fast<Self> {
        if c.peek()? == b'"' {
            return c.text().map(EnumName);
        }
        let (negative, n) = c.integer()?;
        let text = if negative { 0i64.checked_sub_unsigned(n).ok_or(Decline)?.to_string() } else { n.to_string() };
        Ok(EnumName(Text(Cow::Owned(text))))
    }
}

/// Generates [`FastRead`] for a `model!` struct: each member by its JSON name, a
/// repeated member declines (serde refuses it as a duplicate field), unknown members
/// are skipped. Members marked `check_only` are checked as the serde reader checks
/// them but not stored (see [`FastRead::check`]).
macro_rules! fast_struct {
    ($name:ident { $($field:ident $(= $rename:literal)? $(: $how:ident)?),* }) => {
        const _: () = {
            use $crate::tetragon::fast::{check_member, fast_member, forget_member, first_sighting, json_name, Cursor, Fast, FastRead};

            /// Member indexes: bit `Member::x` of `seen` is set once `x` was read.
            #[allow(non_camel_case_types, dead_code)]
            enum Member { $($field),* }
            const _: () = assert!([$(stringify!($field)),*].len() <= 64, "`seen` has 64 bits");

            impl<'a> FastRead<'a> for $name<'a> {
                fn read(c: &mut Cursor<'a>) -> Fast<Self> {
                    let mut out = Self::default();
                    out.fill(c)?;
                    Ok(out)
                }

                fn read_into(c: &mut Cursor<'a>, slot: &mut Option<Self>) -> Fast<()> {
                    slot.insert(Self::default()).fill(c)
                }

                fn fill(&mut self, c: &mut Cursor<'a>) -> Fast<()> {
                    let out = self;
                    let mut seen = 0u64;
                    c.object(|c, key| {
                        match key {
                            $(
                                json_name!($field $(= $rename)?) => {
                                    first_sighting(&mut seen, Member::$field as u32)?;
                                    fast_member!(c, out.$field, |s: &Self| &s.$field $(, $how)?);
                                }
                            )*
                            _ => c.skip()?,
                        }
                        Ok(())
                    })
                }

                fn check(c: &mut Cursor<'a>) -> Fast<()> {
                    let mut seen = 0u64;
                    c.object(|c, key| {
                        match key {
                            $(
                                json_name!($field $(= $rename)?) => {
                                    first_sighting(&mut seen, Member::$field as u32)?;
                                    check_member(c, |s: &Self| &s.$field)?;
                                }
                            )*
                            _ => c.skip()?,
                        }
                        Ok(())
                    })
                }

                fn forget_unread(&mut self) {
                    $(forget_member!(self.$field $(, $how)?);)*
                }
            }
        };
    };
}
pub(crate) use fast_struct;

/// Marks member `index` of an object as seen; a member seen twice is left to serde
/// (which refuses the duplicate).
#[inline]
pub(crate) fn first_sighting(seen: &mut u64, index: u32) -> Fast<()> {
    let bit = 1u64 << index;
    if *seen & bit != 0 {
        return Err(Decline);
    }
    *seen |= bit;
    Ok(())
}

/// Reads one member into its slot, or (`check_only`) only checks it.
macro_rules! fast_member {
    ($c:ident, $slot:expr, $like:expr) => {
        $crate::tetragon::fast::optional_into($c, &mut $slot)?
    };
    ($c:ident, $slot:expr, $like:expr, check_only) => {
        $crate::tetragon::fast::check_member($c, $like)?
    };
}
pub(crate) use fast_member;

/// [`FastRead::forget_unread`] for one member.
macro_rules! forget_member {
    ($slot:expr) => {
        if let Some(value) = &mut $slot {
            $crate::tetragon::fast::FastRead::forget_unread(value);
        }
    };
    ($slot:expr, check_only) => {
        $slot = None
    };
}
pub(crate) use forget_member;

/// Checks a member that may be `null` as [`optional`] would read it, storing nothing;
/// `_member` names the member's slot, for its type.
#[inline]
pub(crate) fn check_member<'a, S, T: FastRead<'a>>(c: &mut Cursor<'a>, _member: fn(&S) -> &Option<T>) -> Fast<()> {
    if c.null()? {
        Ok(())
    } else {
        T::check(c)
    }
}

/// A member's JSON name: its rename, or its field name.
macro_rules! json_name {
    ($field:ident = $rename:literal) => {
        $rename
    };
    ($field:ident) => {
        stringify!($field)
    };
}
pub(crate) use json_name;

/// One argument value of the kind its member name gives (`None`: a kind this decoder
/// does not know, which the serde reader skips too).
fn arg_value<'a>(c: &mut Cursor<'a>, kind: &str) -> Fast<Option<ArgValue<'a>>> {
    macro_rules! read {
        ($t:ty) => {
            <$t as FastRead>::read(c)?
        };
    }
    Ok(super::model::arg_value_of_kind!(kind, read, {
        c.skip()?;
        return Ok(None);
    }))
}

impl<'a> FastRead<'a> for Arg<'a> {
    /// As the serde reader: `label` wherever it is; the first member that yields a
    /// value is the value, later ones are skipped.
    fn read(c: &mut Cursor<'a>) -> Fast<Self> {
        let mut arg = Arg::default();
        c.object(|c, key| {
            if key == "label" {
                arg.label = optional(c)?;
            } else if arg.value.is_none() {
                arg.value = arg_value(c, key)?;
            } else {
                c.skip()?;
            }
            Ok(())
        })?;
        Ok(arg)
    }
}

/// The event member named `key` (an event key, see `model::is_event_key`), read into
/// `slot` (whatever it held is replaced).
pub(crate) fn body_into<'a>(c: &mut Cursor<'a>, key: &str, slot: &mut Option<Body<'a>>) -> Fast<()> {
    /// Puts an empty body of the variant in the slot and fills it where it stands.
    macro_rules! fill {
        ($variant:ident) => {{
            let Body::$variant(body) = slot.insert(Body::$variant(Default::default())) else {
                unreachable!("just inserted")
            };
            body.fill(c)
        }};
        ($variant:ident($first:expr)) => {{
            let Body::$variant(_, body) = slot.insert(Body::$variant($first, Default::default())) else {
                unreachable!("just inserted")
            };
            body.fill(c)
        }};
    }
    match key {
        "process_exec" => fill!(Exec),
        "process_exit" => fill!(Exit),
        "process_kprobe" => fill!(Kprobe),
        "process_tracepoint" => fill!(Tracepoint),
        "process_loader" => fill!(Loader),
        "process_uprobe" => fill!(Uprobe),
        "process_throttle" => fill!(Throttle),
        "process_lsm" => fill!(Lsm),
        "process_usdt" => fill!(Usdt),
        "test" => fill!(Test),
        "rate_limit_info" => fill!(RateLimit),
        "process_connect" => fill!(Legacy(LegacyKind::Connect)),
        "process_accept" => fill!(Legacy(LegacyKind::Accept)),
        "process_close" => fill!(Legacy(LegacyKind::Close)),
        "process_listen" => fill!(Legacy(LegacyKind::Listen)),
        other => fill!(Unknown(Text(Cow::Owned(other.to_owned())))),
    }
}

/// One record (a `GetEventsResponse` or its Vector wrapper), read into `env` (a
/// default envelope) as the serde reader (`Envelope`'s `Deserialize`) reads it, or
/// [`Decline`] (`env` then holds a part of the record).
pub(crate) fn envelope_into<'a>(record: &'a str, env: &mut Envelope<'a>) -> Fast<()> {
    let mut c = Cursor::new(record);
    // A Vector payload is read as the event `type` named when it came (Vector writes
    // `type` first) into `body`: reading it where it stands saves skipping it and
    // reading it again. It stays only if, at the end, no event member came and it is
    // still the payload and the type.
    let mut body_from_payload: Option<Text<'a>> = None;
    c.object(|c, key| {
        match key {
            "node_name" => env.node_name = optional(c)?,
            "time" => env.time = optional(c)?,
            "cluster_name" => env.cluster_name = optional(c)?,
            "node_labels" => env.node_labels = optional(c)?,
            "aggregation_info" => {
                env.aggregation_count = optional::<super::model::AggregationInfo<'_>>(c)?.and_then(|a| a.count)
            }
            "type" => env.wrapper_type = optional(c)?,
            "payload" => {
                if body_from_payload.take().is_some() {
                    env.body = None;
                }
                env.payload = if c.null()? {
                    None
                } else {
                    // The value's text without the whitespace before it, as RawValue.
                    c.peek()?;
                    let start = c.pos;
                    match env.wrapper_type.clone() {
                        Some(kind) if env.body.is_none() && super::model::is_event_key(&kind) => {
                            body_into(c, &kind, &mut env.body)?;
                            body_from_payload = Some(kind);
                        }
                        _ => c.skip()?,
                    }
                    Some(&record[start..c.pos])
                };
            }
            _ => {
                if super::model::is_event_key(key) && (env.body.is_none() || body_from_payload.is_some()) {
                    // An event member takes the place of a payload read early.
                    if body_from_payload.take().is_some() {
                        env.body = None;
                    }
                    // protojson writes `null` for nothing; tolerated as by serde.
                    if !c.null()? {
                        body_into(c, key, &mut env.body)?;
                    }
                } else {
                    c.skip()?;
                }
            }
        }
        Ok(())
    })?;
    if !c.at_end() {
        return Err(Decline);
    }
    if let Some(kind) = body_from_payload {
        if env.wrapper_type.as_ref() != Some(&kind) {
            // The type changed after the payload: the decoder reads the payload again.
            env.body = None;
        }
    }
    Ok(())
}

/// [`envelope_into`] a new envelope.
pub(crate) fn envelope(record: &str) -> Fast<Envelope<'_>> {
    let mut env = Envelope::default();
    envelope_into(record, &mut env)?;
    Ok(env)
}

/// The event member `kind` held by a Vector wrapper's `payload` text.
pub(crate) fn payload_body<'a>(payload: &'a str, kind: &str) -> Fast<Body<'a>> {
    let mut c = Cursor::new(payload);
    let mut body = None;
    body_into(&mut c, kind, &mut body)?;
    if !c.at_end() {
        return Err(Decline);
    }
    body.ok_or(Decline)
}

/// Clears the members the fast reader only checks, in the event of `env` (see
/// [`FastRead::forget_unread`]): the serde reader's envelope after this equals the
/// fast reader's.
pub(crate) fn forget_unread(env: &mut Envelope<'_>) {
    let Some(body) = &mut env.body else { return };
    match body {
        Body::Exec(b) => b.forget_unread(),
        Body::Exit(b) => b.forget_unread(),
        Body::Kprobe(b) => b.forget_unread(),
        Body::Tracepoint(b) => b.forget_unread(),
        Body::Loader(b) => b.forget_unread(),
        Body::Uprobe(b) => b.forget_unread(),
        Body::Throttle(b) => b.forget_unread(),
        Body::Lsm(b) => b.forget_unread(),
        Body::Usdt(b) => b.forget_unread(),
        Body::Test(b) => b.forget_unread(),
        Body::RateLimit(b) => b.forget_unread(),
        Body::Legacy(_, b) => b.forget_unread(),
        Body::Unknown(_, b) => b.forget_unread(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The serde reader's envelope, with the Vector payload resolved as the decoder does
    /// and the members the fast reader only checks cleared.
    fn serde_envelope(record: &str) -> Result<Envelope<'_>, serde_json::Error> {
        use serde::de::DeserializeSeed;
        let mut env: Envelope<'_> = serde_json::from_str(record)?;
        if let (None, Some(payload), Some(kind)) = (&env.body, env.payload, env.wrapper_type.as_deref()) {
            if super::super::model::is_event_key(kind) {
                let mut de = serde_json::Deserializer::from_str(payload);
                env.body = Some(super::super::model::BodySeed(kind).deserialize(&mut de)?);
            }
        }
        forget_unread(&mut env);
        Ok(env)
    }

    /// The fast reader's envelope, resolved the same way; `None` when it declines.
    fn fast_envelope(record: &str) -> Option<Envelope<'_>> {
        let mut env = envelope(record).ok()?;
        if let (None, Some(payload), Some(kind)) = (&env.body, env.payload, env.wrapper_type.as_deref()) {
            if super::super::model::is_event_key(kind) {
                env.body = Some(payload_body(payload, kind).ok()?);
            }
        }
        Some(env)
    }

    const RECORDS: [&str; 5] = [
        r#"{"process_exec":{"process":{"exec_id":"aWQ=","pid":42,"uid":"1000","cwd":"/home/u","binary":"/usr/bin/curl","arguments":"-s \"http://x\" \u00e9","start_time":"2024-01-01T00:00:00.5Z","pod":{"namespace":"ns","name":"web-1","container":{"id":"containerd://abc","name":"web","image":{"id":"i@sha256:1","name":"nginx:1"},"pid":7,"maybe_exec_probe":true},"pod_labels":{"app":"web","tier":"fe"}},"cap":{"permitted":["CAP_CHOWN","CAP_KILL"]},"ns":{"uts":{"inum":4026531838,"is_host":true}}},"parent":{"exec_id":"cA==","pid":41,"binary":"/bin/sh"},"ancestors":[{"binary":"/sbin/init"}]},"node_name":"n1","time":"2024-01-01T00:00:01Z","aggregation_info":{"count":"3"},"unknown":[1,-2.5e3,null,{"a":[true,false]}]}"#,
        r#"{"process_kprobe":{"process":{"pid":1,"binary":"/bin/cat"},"function_name":"security_file_permission","args":[{"file_arg":{"path":"/etc/passwd","permission":"-rw-r--r--"}},{"int_arg":-4},{"zzz_arg":1,"uint_arg":"7","label":"x"},{"bytes_arg":"AAE=","int_arg":3}],"return":{"int_arg":0},"action":"KPROBE_ACTION_POST","return_action":5,"tags":["a","b"],"kernel_stack_trace":[{"address":"18446744072","symbol":"x"}]},"node_name":"kind","time":"2023-07-06T10:13:33.834882128Z"}"#,
        r#"{"time": "2025-04-23T10:22:32Z", "node_name": "gke", "type": "process_exit", "payload": {"process":{"pid":9,"binary":"/bin/true"},"signal":"SIGKILL","status":0}}"#,
        r#"{"process_connect":{"process":{"pid":5},"source_ip":"10.0.0.1","source_port":40000,"destination_ip":"1.1.1.1","destination_port":443,"protocol":"TCP","stats":{"bytes_sent":"12"}},"time":"2022-01-01T00:00:00Z"}"#,
        "{\n  \"process_uprobe\": {\"process\": {\"pid\": 3}, \"path\": \"/lib/libssl.so\", \"symbol\": \"SSL_write\", \"offset\": \"12\"},\n  \"rate_limit_info\": null,\n  \"test\": {\"arg0\": 1}\n}\n",
    ];

    #[test]
    fn reads_what_serde_reads() {
        for record in RECORDS {
            let fast = fast_envelope(record).unwrap_or_else(|| panic!("declined: {record}"));
            assert_eq!(Some(fast), serde_envelope(record).ok(), "{record}");
        }
    }

    #[test]
    fn declines_what_serde_refuses_or_reads_differently() {
        for record in [
            r#"{"process_exec":{"process":{"pid":1.0}}}"#,
            r#"{"process_exec":{"process":{"pid":01}}}"#,
            r#"{"process_exec":{"process":{"pid":-0}}}"#,
            r#"{"process_exec":{"process":{"pid":1,"pid":2}}}"#,
            "{\"process_exec\":{\"process\":{\"binary\":\"a\u{1}b\"}}}",
            r#"{"process_exec":{"process":{"binary":"\ud800"}}}"#,
            r#"{"process_exec":{"process":{"pi\u0064":1}}}"#,
            r#"{"process_exec":{"process":["x"]}}"#,
            r#"{"process_exec":{"process":{}}} x"#,
            r#"{"process_exec":{"process":{"pid":4294967296}}}"#,
            r#"{"process_exec":{"process":{"in_init_tree":1}}}"#,
            r#"{"x":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}"#,
        ] {
            assert_eq!(fast_envelope(record), None, "{record}");
        }
    }

    #[test]
    fn check_only_members_are_checked_as_serde_checks_them_but_not_stored() {
        // Wrong types, nulls where a value is required, and duplicates, at any depth of
        // a member that is only checked: serde refuses these, so the fast reader must
        // decline them.
        for record in [
            r#"{"process_exec":{"process":{"cap":{"permitted":[1]}}}}"#,
            r#"{"process_exec":{"process":{"cap":{"permitted":[null]}}}}"#,
            r#"{"process_exec":{"process":{"cap":{"permitted":["A"],"permitted":[]}}}}"#,
            r#"{"process_exec":{"process":{"cap":"CAP_KILL"}}}"#,
            r#"{"process_exec":{"process":{"flags":"a","flags":"b"}}}"#,
            r#"{"process_exec":{"process":{"flags":null,"flags":"b"}}}"#,
            r#"{"process_exec":{"process":{"auid":-1}}}"#,
            r#"{"process_exec":{"process":{"refcnt":"x"}}}"#,
            r#"{"process_exec":{"process":{"ns":{"uts":{"inum":1.5}}}}}"#,
            r#"{"process_exec":{"process":{"environment_variables":[{"Key":"a","Key":"b"}]}}}"#,
            r#"{"process_exec":{"process":{"pod":{"pod_annotations":{"a":1}}}}}"#,
            r#"{"process_exec":{"process":{"pod":{"container":{"maybe_exec_probe":"yes"}}}}}"#,
            r#"{"process_exec":{"process":{"pod":{"container":{"image":{"id":5}}}}}}"#,
            r#"{"process_kprobe":{"kernel_stack_trace":[{"address":"x"}]}}"#,
            r#"{"process_kprobe":{"data":[{"int_arg":"x"}]}}"#,
        ] {
            assert!(serde_envelope(record).is_err(), "serde takes {record}");
            assert_eq!(fast_envelope(record), None, "{record}");
        }
        let record = r#"{"process_exec":{"process":{"pid":1,"flags":"execve","auid":4294967295,"cap":{"permitted":["CAP_KILL"],"effective":null},"in_init_tree":false,"environment_variables":[{"Key":"A","Value":"b"}],"pod":{"pod_annotations":{"a":"b"},"container":{"image":{"id":"x","name":"n"},"start_time":"t"}}},"parent":null}}"#;
        let fast = fast_envelope(record).expect("read");
        let Some(Body::Exec(exec)) = &fast.body else { panic!("{fast:?}") };
        let process = exec.process.as_ref().expect("process");
        assert_eq!(
            (process.pid, &process.flags, &process.cap, &process.environment_variables),
            (Some(U32(1)), &None, &None, &None)
        );
        let image = process.pod.as_ref().and_then(|p| p.container.as_ref()).and_then(|c| c.image.as_ref());
        assert_eq!(image.map(|i| (i.id.is_none(), i.name.as_deref())), Some((true, Some("n"))));
        assert_eq!(Some(fast), serde_envelope(record).ok());
    }

    #[test]
    fn escaped_strings_are_unescaped_like_serde() {
        let record =
            r#"{"process_exec":{"process":{"binary":"/bin/e\"cho\u0001","arguments":"a\\b \u00e9\ud83d\ude00"}}}"#;
        assert_eq!(fast_envelope(record), serde_envelope(record).ok());
    }

    #[test]
    fn every_corpus_record_is_read_fast_and_as_serde_reads_it() {
        let Some(records) = super::super::corpus_records() else { return };
        assert_eq!(records.len(), 86);
        for record in &records {
            let fast = fast_envelope(record).unwrap_or_else(|| panic!("declined: {record}"));
            assert_eq!(Some(fast), serde_envelope(record).ok(), "{record}");
        }
    }

    fn naive_run_end(bytes: &[u8], at: usize) -> usize {
        (at..bytes.len()).find(|&i| STRING_STOP[bytes[i] as usize]).unwrap_or(bytes.len())
    }

    proptest! {
        /// The sixteen- and eight-bytes-a-step scans stop where a byte-by-byte scan stops.
        #[test]
        fn plain_run_end_matches_a_byte_loop(
            bytes in proptest::collection::vec(prop_oneof![
                Just(b'"'), Just(b'\\'), 0u8..0x20, 0x20u8..0x80, 0x80u8..=0xff, Just(b'a')
            ], 0..64),
            at in 0usize..64,
        ) {
            let at = at.min(bytes.len());
            prop_assert_eq!(plain_run_end(&bytes, at), naive_run_end(&bytes, at));
            prop_assert_eq!(plain_run_end_swar(&bytes, at), naive_run_end(&bytes, at));
        }

        /// On records with bytes changed, cut or inserted, the fast reader either
        /// declines or reads exactly what serde reads (and never accepts what serde
        /// refuses).
        #[test]
        fn mutated_records_read_as_serde_or_decline(
            which in 0usize..RECORDS.len(),
            edits in proptest::collection::vec((any::<proptest::sample::Index>(), 0u8..4, proptest::sample::select(
                vec![b'"', b'\\', b'{', b'}', b'[', b']', b',', b':', b'0', b'1', b'-', b'.', b'e', b'n', b't', b' ', b'u', b'x', 0x01]
            )), 1..4),
        ) {
            let mut bytes = RECORDS[which].as_bytes().to_vec();
            for (index, op, byte) in edits {
                if bytes.is_empty() { break; }
                let i = index.index(bytes.len());
                match op {
                    0 => bytes[i] = byte,
                    1 => { bytes.remove(i); }
                    2 => bytes.insert(i, byte),
                    _ => bytes.truncate(i),
                }
            }
            let Ok(record) = String::from_utf8(bytes) else { return Ok(()) };
            if let Some(fast) = fast_envelope(&record) {
                let serde = serde_envelope(&record);
                prop_assert!(serde.is_ok(), "fast read what serde refuses: {record} ({:?})", serde.err());
                prop_assert_eq!(Some(fast), serde.ok());
            }
        }
    }
}

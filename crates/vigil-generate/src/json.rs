//! JSON objects written member by member, in the order the real sources write them
//! (serde_json's map would sort the keys unless the `preserve_order` feature happens to
//! be enabled somewhere in the build).

use std::fmt::Write;

#[derive(Debug, Clone)]
pub(crate) struct Obj {
    buf: String,
}

impl Obj {
    pub(crate) fn new() -> Self {
        Obj { buf: String::from("{") }
    }

    fn key(&mut self, key: &str) {
        if self.buf.len() > 1 {
            self.buf.push(',');
        }
        push_str_literal(&mut self.buf, key);
        self.buf.push(':');
    }

    pub(crate) fn str(mut self, key: &str, value: &str) -> Self {
        self.key(key);
        push_str_literal(&mut self.buf, value);
        self
    }

    /// A string member that is left out when `value` is `None` (exports omit empty fields).
    pub(crate) fn opt_str(self, key: &str, value: Option<&str>) -> Self {
        match value {
            Some(v) => self.str(key, v),
            None => self,
        }
    }

    pub(crate) fn num(mut self, key: &str, value: i64) -> Self {
        self.key(key);
        let _ = write!(self.buf, "{value}");
        self
    }

    pub(crate) fn bool(mut self, key: &str, value: bool) -> Self {
        self.key(key);
        self.buf.push_str(if value { "true" } else { "false" });
        self
    }

    pub(crate) fn obj(mut self, key: &str, value: Obj) -> Self {
        self.key(key);
        self.buf.push_str(&value.finish());
        self
    }

    /// A member whose value is already JSON text.
    pub(crate) fn raw(mut self, key: &str, json: &str) -> Self {
        self.key(key);
        self.buf.push_str(json);
        self
    }

    pub(crate) fn strs(mut self, key: &str, values: &[&str]) -> Self {
        self.key(key);
        self.buf.push('[');
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                self.buf.push(',');
            }
            push_str_literal(&mut self.buf, v);
        }
        self.buf.push(']');
        self
    }

    pub(crate) fn objs(mut self, key: &str, values: Vec<Obj>) -> Self {
        self.key(key);
        self.buf.push('[');
        for (i, v) in values.into_iter().enumerate() {
            if i > 0 {
                self.buf.push(',');
            }
            self.buf.push_str(&v.finish());
        }
        self.buf.push(']');
        self
    }

    pub(crate) fn finish(mut self) -> String {
        self.buf.push('}');
        self.buf
    }
}

/// Appends `s` as a JSON string literal.
fn push_str_literal(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_keep_their_order_and_strings_are_escaped() {
        let text = Obj::new()
            .str("z", "a \"quoted\" \\ path\n")
            .num("a", -3)
            .bool("b", true)
            .opt_str("none", None)
            .obj("o", Obj::new().str("k", "v"))
            .strs("l", &["x", "y"])
            .objs("e", vec![Obj::new(), Obj::new().num("n", 1)])
            .raw("r", "[]")
            .finish();
        assert_eq!(
            text,
            r#"{"z":"a \"quoted\" \\ path\n","a":-3,"b":true,"o":{"k":"v"},"l":["x","y"],"e":[{},{"n":1}],"r":[]}"#
        );
        let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed["z"], "a \"quoted\" \\ path\n");
        assert!(serde_json::from_str::<serde_json::Value>(&Obj::new().str("c", "\u{1}").finish()).is_ok());
    }
}

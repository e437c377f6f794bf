//! Value modifiers (Sigma modifiers appendix v2.1): one test per modifier, each with
//! events that must match and events that must not.

mod common;

use base64::Engine as _;
use common::*;
use serde_json::json;

/// `{"F": value}`.
fn f(value: serde_json::Value) -> String {
    ev("F", value)
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn utf16le(text: &str) -> Vec<u8> {
    text.encode_utf16().flat_map(|u| u.to_le_bytes()).collect()
}

fn utf16be(text: &str) -> Vec<u8> {
    text.encode_utf16().flat_map(|u| u.to_be_bytes()).collect()
}

#[test]
fn contains() {
    check(
        &field_rule("F|contains", "evil"),
        &[f(json!("run evil now")), f(json!("EVIL")), f(json!("evil")), f(json!("xxEvIlxx"))],
        &[f(json!("good")), f(json!("evi l")), f(json!("")), ev("G", json!("evil")), f(json!(null))],
    );
    // Short literals (below the scanned length) follow the same rules.
    check(&field_rule("F|contains", "'-e'"), &[f(json!("ps -E x")), f(json!("-e"))], &[f(json!("e-")), f(json!("x"))]);
}

#[test]
fn startswith() {
    check(
        &field_rule("F|startswith", "abc"),
        &[f(json!("abcdef")), f(json!("ABC")), f(json!("abc"))],
        &[f(json!("xabc")), f(json!("ab")), f(json!(" abc")), ev("G", json!("abc"))],
    );
    check(&field_rule("F|startswith", "ab"), &[f(json!("ABx"))], &[f(json!("xab"))]);
}

#[test]
fn endswith() {
    check(
        &field_rule("F|endswith", r"'\cmd.exe'"),
        &[f(json!(r"C:\Windows\System32\cmd.exe")), f(json!(r"\CMD.EXE"))],
        &[f(json!(r"C:\Windows\System32\cmd.exe.bak")), f(json!("cmd.exe")), f(json!(r"C:\xcmd.exe"))],
    );
    check(&field_rule("F|endswith", "yz"), &[f(json!("xYZ"))], &[f(json!("yzx"))]);
}

#[test]
fn all_links_values_with_and() {
    let rule = field_rule("F|contains|all", "[' -a', ' -b']");
    check(
        &rule,
        &[f(json!("x -a -b")), f(json!("x -B -A"))],
        &[f(json!("x -a")), f(json!("x -b")), f(json!("x")), ev("G", json!("x -a -b"))],
    );
    // Without a position modifier: every value must equal some value of the field,
    // which only an array-valued field can satisfy with two different values.
    let rule = field_rule("F|all", "[x, y]");
    check(&rule, &[f(json!(["x", "y"])), f(json!(["Y", "z", "X"]))], &[f(json!("x")), f(json!(["x", "z"]))]);
}

#[test]
fn exists() {
    // Spec: "this check only verifies the presence of a field, not its value, be it
    // empty or null".
    check(
        &field_rule("F|exists", "true"),
        &[f(json!("x")), f(json!("")), f(json!(null)), f(json!(0)), f(json!(["a"])), f(json!({"a": 1}))],
        &[ev("G", json!("x")), json(json!({}))],
    );
    check(
        &field_rule("F|exists", "false"),
        &[ev("G", json!("x")), json(json!({}))],
        &[f(json!("x")), f(json!("")), f(json!(null))],
    );
    // Nested paths count as present too.
    check(&field_rule("a.b|exists", "true"), &[json(json!({"a": {"b": 1}}))], &[json(json!({"a": {"c": 1}}))]);
    assert_eq!(error_kinds(&field_rule("F|exists", "maybe")), ["value"]);
}

#[test]
fn cased() {
    check(
        &field_rule("F|cased", "Evil"),
        &[f(json!("Evil"))],
        &[f(json!("evil")), f(json!("EVIL")), f(json!("xEvil"))],
    );
    check(
        &field_rule("F|contains|cased", "Evil"),
        &[f(json!("an Evil thing")), f(json!("Evil"))],
        &[f(json!("an evil thing")), f(json!("an EVIL thing"))],
    );
    check(&field_rule("F|startswith|cased", "Ab"), &[f(json!("Abc"))], &[f(json!("abc")), f(json!("ABc"))]);
    check(&field_rule("F|endswith|cased", "yZ"), &[f(json!("xyZ"))], &[f(json!("xyz")), f(json!("xYZ"))]);
    // Wildcards keep working case-sensitively.
    check(&field_rule("F|cased", "A*c"), &[f(json!("Abbc"))], &[f(json!("abbc")), f(json!("AbbC"))]);
}

#[test]
fn neq_single_value() {
    check(
        &field_rule("F|neq", "a"),
        &[f(json!("b")), f(json!("aa")), f(json!(""))],
        // Missing field: not "different from a" (the field must exist).
        &[f(json!("a")), f(json!("A")), ev("G", json!("b")), json(json!({}))],
    );
    check(&field_rule("F|neq", "5"), &[f(json!(6)), f(json!("6"))], &[f(json!(5)), f(json!("5"))]);
}

#[test]
fn neq_list_means_none_of() {
    check(
        &field_rule("F|neq", "[a, b]"),
        &[f(json!("c")), f(json!("ab"))],
        &[f(json!("a")), f(json!("b")), f(json!("B")), ev("G", json!("c"))],
    );
}

#[test]
fn neq_with_contains() {
    check(&field_rule("F|neq|contains", "evil"), &[f(json!("good"))], &[f(json!("so EVIL")), json(json!({}))]);
}

#[test]
fn windash_each_dash_character() {
    let rule = field_rule("F|windash|contains", "' -enc '");
    let positive: Vec<String> = ["-", "/", "\u{2013}", "\u{2014}", "\u{2015}"]
        .iter()
        .map(|d| f(json!(format!("powershell {d}enc AAA"))))
        .collect();
    check(
        &rule,
        &positive,
        &[f(json!("powershell enc AAA")), f(json!("powershell +enc AAA")), f(json!("powershell _enc"))],
    );
    // Two dashes: every combination.
    let rule = field_rule("F|windash", "'-a -b'");
    check(
        &rule,
        &[f(json!("-a /b")), f(json!("/a \u{2015}b")), f(json!("\u{2013}A -B"))],
        &[f(json!("-a b")), f(json!("x-a -b"))],
    );
}

#[test]
fn windash_with_many_dashes_falls_back_without_losing_matches() {
    // Five dashes exceed the enumeration limit; the engine uses a dash class instead.
    let rule = field_rule("F|windash|contains", "'-a -b -c -d -e'");
    check(
        &rule,
        &[f(json!("x /a -b \u{2014}c /d \u{2015}e x")), f(json!("-a -b -c -d -e"))],
        &[f(json!("-a -b -c -d e")), f(json!("-a -b -c -d +e"))],
    );
}

#[test]
fn re_is_case_sensitive_by_default() {
    check(&field_rule("F|re", "'^Evil.*$'"), &[f(json!("Evil thing"))], &[f(json!("evil thing")), f(json!("xEvil"))]);
    // Unanchored patterns match anywhere (search semantics).
    check(&field_rule("F|re", "'vil\\d+'"), &[f(json!("Evil42x"))], &[f(json!("Evil"))]);
    // Numbers are matched on their text.
    check(&field_rule("F|re", "'^46[0-9]{2}$'"), &[f(json!(4688)), f(json!("4624"))], &[f(json!(468))]);
}

#[test]
fn re_i_flag() {
    check(&field_rule("F|re|i", "'^Evil.*$'"), &[f(json!("evil thing")), f(json!("EVIL"))], &[f(json!("xevil"))]);
}

#[test]
fn re_m_flag_makes_anchors_match_at_line_breaks() {
    let event = f(json!("first\nsecond\nthird"));
    check(&field_rule("F|re|m", "'^second$'"), std::slice::from_ref(&event), &[f(json!("first second"))]);
    check(&field_rule("F|re", "'^second$'"), &[], &[event]);
}

#[test]
fn re_s_flag_makes_dot_match_newline() {
    let event = f(json!("a\nb"));
    check(&field_rule("F|re|s", "'a.b'"), &[event.clone(), f(json!("axb"))], &[f(json!("ab"))]);
    check(&field_rule("F|re", "'a.b'"), &[f(json!("axb"))], &[event]);
}

#[test]
fn re_flags_combine() {
    check(&field_rule("F|re|i|m|s", "'^B.C$'"), &[f(json!("a\nb\nc"))], &[f(json!("a\nbc"))]);
}

#[test]
fn re_rejections() {
    assert_eq!(error_kinds(&field_rule("F|re", "'(unclosed'")), ["regex"]);
    assert_eq!(error_kinds(&field_rule("F|i", "'x'")), ["modifier-combination"]);
    assert_eq!(error_kinds(&field_rule("F|re|contains", "'x'")), ["modifier-combination"]);
}

#[test]
fn base64_encodes_the_value() {
    assert_eq!(b64(b"abc"), "YWJj");
    check(&field_rule("F|base64", "abc"), &[f(json!("YWJj"))], &[f(json!("abc")), f(json!("xYWJj"))]);
    check(
        &field_rule("F|base64|contains", "'http://'"),
        &[f(json!(format!("data {}", b64(b"http://"))))],
        &[f(json!("http://")), f(json!(b64(b"https://")))],
    );
    assert_eq!(error_kinds(&field_rule("F|base64", "'a*'")), ["modifier-combination"]);
}

#[test]
fn base64offset_finds_the_value_at_each_offset() {
    let rule = field_rule("F|base64offset|contains", "'Invoke-Mimikatz'");
    let positive: Vec<String> = ["", "x", "xy", "abc", "abcd", "abcde"]
        .iter()
        .map(|prefix| f(json!(b64(format!("{prefix}Invoke-Mimikatz -DumpCreds").as_bytes()))))
        .collect();
    check(&rule, &positive, &[f(json!(b64(b"Invoke-Something"))), f(json!("Invoke-Mimikatz"))]);
    // The value at the very end of the stream (with padding).
    check(&rule, &[f(json!(b64(b"xInvoke-Mimikatz")))], &[]);
}

#[test]
fn utf16le_base64offset_contains() {
    // SigmaHQ's form for `powershell -EncodedCommand` payloads.
    let rule = field_rule("F|utf16le|base64offset|contains", "'IEX (New-Object'");
    let positive: Vec<String> = ["", "$", "$a", "$ab;"]
        .iter()
        .map(|prefix| {
            f(json!(format!("powershell -enc {}", b64(&utf16le(&format!("{prefix}IEX (New-Object Net.WebClient)"))))))
        })
        .collect();
    check(&rule, &positive, &[f(json!(b64(&utf16le("Invoke-Expression")))), f(json!(b64(b"IEX (New-Object")))]);
}

#[test]
fn wide_is_utf16le() {
    let rule = field_rule("F|wide|base64offset|contains", "'spinstall0.aspx'");
    let positive: Vec<String> =
        ["", "a", "ab"].iter().map(|p| f(json!(b64(&utf16le(&format!("{p}spinstall0.aspx")))))).collect();
    check(&rule, &positive, &[f(json!(b64(&utf16be("spinstall0.aspx")))), f(json!(b64(b"spinstall0.aspx")))]);
}

#[test]
fn utf16be_base64offset_contains() {
    let rule = field_rule("F|utf16be|base64offset|contains", "'cmd.exe'");
    let positive: Vec<String> =
        ["", "a", "ab"].iter().map(|p| f(json!(b64(&utf16be(&format!("{p}cmd.exe /c")))))).collect();
    check(&rule, &positive, &[f(json!(b64(&utf16le("cmd.exe /c"))))]);
}

#[test]
fn utf16_prepends_a_byte_order_mark() {
    // `utf16`: BOM FF FE then UTF-16LE (spec: `cmd` > `FF FE 63 00 6d 00 64 00`).
    let mut encoded = vec![0xFF, 0xFE];
    encoded.extend(utf16le("cmd"));
    assert_eq!(b64(&encoded), "//5jAG0AZAA=");
    check(
        &field_rule("F|utf16|base64|contains", "'cmd'"),
        &[f(json!(format!("x {} x", b64(&encoded))))],
        &[f(json!(b64(&utf16le("cmd"))))],
    );
}

#[test]
fn utf16le_non_ascii_base64() {
    // UTF-16LE of `é` is E9 00; base64 of those two bytes is `6QA=`.
    assert_eq!(b64(&utf16le("é")), "6QA=");
    check(&field_rule("F|utf16le|base64", "'é'"), &[f(json!("6QA="))], &[f(json!(b64("é".as_bytes())))]);
}

#[test]
fn numeric_comparisons() {
    let lt = field_rule("F|lt", "10");
    check(
        &lt,
        &[f(json!(9)), f(json!("9")), f(json!(9.5)), f(json!(-3)), f(json!(" 9 "))],
        &[f(json!(10)), f(json!("10")), f(json!(11)), f(json!("abc")), f(json!(null)), ev("G", json!(1))],
    );
    check(&field_rule("F|lte", "10"), &[f(json!(10)), f(json!("10")), f(json!(9))], &[f(json!(10.5)), f(json!("11"))]);
    check(&field_rule("F|gt", "10"), &[f(json!(11)), f(json!("10.5"))], &[f(json!(10)), f(json!("x")), f(json!(true))]);
    check(&field_rule("F|gte", "10"), &[f(json!(10)), f(json!("10")), f(json!(1e3))], &[f(json!(9.99))]);
    // Float and string rule values.
    check(&field_rule("F|gt", "1.5"), &[f(json!(2))], &[f(json!(1.5))]);
    check(&field_rule("F|lt", "'100'"), &[f(json!(99))], &[f(json!(100))]);
    // Any value of an array may satisfy it.
    check(&field_rule("F|gt", "10"), &[f(json!([1, 20]))], &[f(json!([1, 2]))]);
    assert_eq!(error_kinds(&field_rule("F|lt", "abc")), ["value"]);
    assert_eq!(error_kinds(&field_rule("F|lt|gt", "1")), ["modifier-combination"]);
}

#[test]
fn time_parts_equal() {
    let ts = |t: &str| f(json!(t));
    check(&field_rule("F|minute", "5"), &[ts("2024-03-15T14:05:09Z")], &[ts("2024-03-15T14:06:09Z")]);
    check(
        &field_rule("F|hour", "14"),
        &[ts("2024-03-15T14:05:09Z"), ts("2024-03-15 14:59:00")],
        &[ts("2024-03-15T15:05:09Z"), ts("not a date"), ts("")],
    );
    check(&field_rule("F|day", "15"), &[ts("2024-03-15T14:05:09Z")], &[ts("2024-03-16T14:05:09Z")]);
    // ISO weeks: 2024-03-15 is in week 11, 2024-01-01 in week 1.
    check(&field_rule("F|week", "11"), &[ts("2024-03-15T14:05:09Z")], &[ts("2024-01-01T00:00:00Z")]);
    check(&field_rule("F|week", "1"), &[ts("2024-01-01T00:00:00Z")], &[ts("2024-03-15T00:00:00Z")]);
    check(&field_rule("F|month", "3"), &[ts("2024-03-15T14:05:09Z")], &[ts("2024-04-15T14:05:09Z")]);
    check(&field_rule("F|year", "2024"), &[ts("2024-03-15T14:05:09Z")], &[ts("2023-03-15T14:05:09Z")]);
}

#[test]
fn time_parts_with_comparisons() {
    let ts = |t: &str| f(json!(t));
    // Out of office hours: before 06:00 or from 20:00 on.
    let rule = rule("early:\n  F|hour|lt: 6\nlate:\n  F|hour|gte: 20\ncondition: early or late");
    check(
        &rule,
        &[ts("2024-03-15T05:59:00Z"), ts("2024-03-15T20:00:00Z"), ts("2024-03-15T23:10:00Z")],
        &[ts("2024-03-15T06:00:00Z"), ts("2024-03-15T19:59:59Z")],
    );
    check(&field_rule("F|month|gt", "10"), &[ts("2024-11-01T00:00:00Z")], &[ts("2024-10-31T23:59:59Z")]);
    check(&field_rule("F|year|lte", "2020"), &[ts("2020-12-31T00:00:00Z")], &[ts("2021-01-01T00:00:00Z")]);
    check(&field_rule("F|minute|gte", "30"), &[ts("2024-01-01T10:30:00Z")], &[ts("2024-01-01T10:29:59Z")]);
    check(&field_rule("F|day|lt", "2"), &[ts("2024-01-01T10:30:00Z")], &[ts("2024-01-02T00:00:00Z")]);
    check(&field_rule("F|week|gt", "50"), &[ts("2024-12-20T10:30:00Z")], &[ts("2024-12-01T00:00:00Z")]);
}

#[test]
fn cidr_ipv4() {
    let rule = field_rule("F|cidr", "10.0.0.0/8");
    check(
        &rule,
        &[f(json!("10.1.2.3")), f(json!("10.255.255.255")), f(json!("10.0.0.0"))],
        &[
            f(json!("11.0.0.1")),
            f(json!("9.255.255.255")),
            f(json!("not-an-ip")),
            f(json!("10.1.2")),
            f(json!("10.1.2.3.4")),
            f(json!("")),
            f(json!("::ffff:10.1.2.3x")),
            ev("G", json!("10.1.2.3")),
        ],
    );
    let list = field_rule("F|cidr", "['192.168.0.0/16', '172.16.0.0/12']");
    check(&list, &[f(json!("192.168.1.1")), f(json!("172.31.0.1"))], &[f(json!("172.32.0.1")), f(json!("10.0.0.1"))]);
    // A /32 and a bare address.
    check(&field_rule("F|cidr", "'1.2.3.4/32'"), &[f(json!("1.2.3.4"))], &[f(json!("1.2.3.5"))]);
    assert_eq!(error_kinds(&field_rule("F|cidr", "'10.0.0.0/33'")), ["value"]);
    assert_eq!(error_kinds(&field_rule("F|cidr", "'not a net'")), ["value"]);
}

#[test]
fn cidr_ipv6() {
    let rule = field_rule("F|cidr", "'fe80::/10'");
    check(
        &rule,
        &[f(json!("fe80::1")), f(json!("FE80::abcd:1")), f(json!("febf::1"))],
        &[f(json!("fec0::1")), f(json!("2001:db8::1")), f(json!("10.0.0.1")), f(json!("fe80::zz"))],
    );
    check(&field_rule("F|cidr", "'2001:db8::/32'"), &[f(json!("2001:db8:1::5"))], &[f(json!("2001:db9::1"))]);
    // IPv4 addresses are not in IPv6 networks and vice versa.
    check(&field_rule("F|cidr", "'::/0'"), &[f(json!("::1"))], &[f(json!("1.2.3.4"))]);
    check(&field_rule("F|cidr", "'0.0.0.0/0'"), &[f(json!("1.2.3.4"))], &[f(json!("::1"))]);
}

const PLACEHOLDER_PIPELINE: &str = "name: site\nplaceholders: {Admins: [a, 'b*'], Hosts: srv1}\n";

#[test]
fn expand_uses_pipeline_placeholders() {
    let p = pipeline(PLACEHOLDER_PIPELINE);
    check_with(
        &field_rule("F|expand", "'%Admins%'"),
        &p,
        &[f(json!("a")), f(json!("A")), f(json!("bob"))],
        &[f(json!("c")), f(json!("%Admins%")), f(json!("xa"))],
    );
    // Placeholders inside a larger value, with an escaped percent sign.
    check_with(&field_rule("F|expand", r"'\%x%Hosts%.corp'"), &p, &[f(json!("%xsrv1.corp"))], &[f(json!("srv1.corp"))]);
    // With a position modifier.
    check_with(&field_rule("F|expand|contains", "'%Hosts%'"), &p, &[f(json!("on srv1 now"))], &[f(json!("srv2"))]);
    // Without `expand` a placeholder is a plain value.
    check_with(&field_rule("F", "'%Admins%'"), &p, &[f(json!("%admins%"))], &[f(json!("a"))]);
}

#[test]
fn expand_unknown_placeholder_is_rejected() {
    let p = pipeline(PLACEHOLDER_PIPELINE);
    assert_eq!(error_kinds_with(&field_rule("F|expand", "'%Nope%'"), &p), ["placeholder"]);
    assert_eq!(error_kinds(&field_rule("F|expand", "'%Admins%'")), ["placeholder"]);
}

#[test]
fn expand_with_wildcard_placeholders_matches_anything() {
    let p = pipeline("name: wc\nwildcard_placeholders: true\n");
    check_with(
        &field_rule("F|expand", "'%Nope%\\x'"),
        &p,
        &[f(json!("anything\\x")), f(json!("\\x"))],
        &[f(json!("y"))],
    );
}

#[test]
fn fieldref_equal_fields() {
    let rule = field_rule("A|fieldref", "B");
    check(
        &rule,
        &[json(json!({"A": "x", "B": "x"})), json(json!({"A": "X", "B": "x"})), json(json!({"A": 5, "B": "5"}))],
        &[
            json(json!({"A": "x", "B": "y"})),
            json(json!({"A": "x"})),
            json(json!({"B": "x"})),
            json(json!({"A": null, "B": null})),
        ],
    );
    // Any value of an array field may equal the other field.
    check(&rule, &[json(json!({"A": ["y", "x"], "B": "x"}))], &[json(json!({"A": ["y", "z"], "B": "x"}))]);
}

#[test]
fn fieldref_cased() {
    check(
        &field_rule("A|fieldref|cased", "B"),
        &[json(json!({"A": "X", "B": "X"}))],
        &[json(json!({"A": "X", "B": "x"}))],
    );
}

#[test]
fn fieldref_with_position_modifiers() {
    check(
        &field_rule("A|fieldref|startswith", "B"),
        &[json(json!({"A": "prefix-rest", "B": "PREFIX"}))],
        &[json(json!({"A": "x-prefix", "B": "prefix"}))],
    );
    check(
        &field_rule("A|fieldref|endswith", "B"),
        &[json(json!({"A": r"C:\dir\evil.exe", "B": "evil.exe"}))],
        &[json(json!({"A": "evil.exe.bak", "B": "evil.exe"}))],
    );
    check(
        &field_rule("A|fieldref|contains", "B"),
        &[json(json!({"A": "one two three", "B": "TWO"}))],
        &[json(json!({"A": "one three", "B": "two"}))],
    );
}

#[test]
fn fieldref_neq() {
    // Spec: fieldref "can be combined with the neq modifier".
    let rule = field_rule("A|fieldref|neq", "B");
    check(&rule, &[json(json!({"A": "x", "B": "y"}))], &[json(json!({"A": "x", "B": "x"})), json(json!({"B": "x"}))]);
}

#[test]
fn modifier_rejections() {
    assert_eq!(error_kinds(&field_rule("F|nosuch", "x")), ["unknown-modifier"]);
    assert_eq!(error_kinds(&field_rule("F|contains|startswith", "x")), ["modifier-combination"]);
    assert_eq!(error_kinds(&field_rule("F|cidr|re", "x")), ["modifier-combination"]);
}

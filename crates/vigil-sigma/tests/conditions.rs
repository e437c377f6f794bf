//! The condition language and the structure of searches (Sigma rules specification
//! v2.1, "Condition", "Lists", "Maps", "Keywords search").

mod common;

use common::*;
use serde_json::json;

/// Every event setting a subset of the fields `A`, `B`, `C` (…) to "1", as
/// (bitmask, JSON) pairs: bit i set means field i is present.
fn subsets(fields: &[&str]) -> Vec<(u32, String)> {
    (0..1u32 << fields.len())
        .map(|mask| {
            let mut map = serde_json::Map::new();
            for (i, name) in fields.iter().enumerate() {
                if mask & (1 << i) != 0 {
                    map.insert(name.to_string(), json!("1"));
                }
            }
            (mask, serde_json::Value::Object(map).to_string())
        })
        .collect()
}

/// Checks a condition over searches `a`, `b`, `c` (… each testing its upper-case
/// field) against a truth function on every combination of fields.
fn truth_table(names: &[&str], condition: &str, expected: impl Fn(&[bool]) -> bool) {
    let mut detection = String::new();
    let fields: Vec<String> = names.iter().map(|n| n.to_ascii_uppercase()).collect();
    for (name, field) in names.iter().zip(&fields) {
        detection.push_str(&format!("{name}:\n  {field}: '1'\n"));
    }
    detection.push_str(&format!("condition: {condition}\n"));
    let text = rule(&detection);
    let field_refs: Vec<&str> = fields.iter().map(String::as_str).collect();
    let cases = subsets(&field_refs);
    let events: Vec<String> = cases.iter().map(|(_, e)| e.clone()).collect();
    let got = matches(&text, &events);
    for ((mask, event), got) in cases.iter().zip(got) {
        let bits: Vec<bool> = (0..names.len()).map(|i| mask & (1 << i) != 0).collect();
        assert_eq!(got, expected(&bits), "condition `{condition}` on {event}");
    }
}

#[test]
fn and_or_not_precedence() {
    // not binds tighter than and, and tighter than or.
    truth_table(&["a", "b", "c"], "a or b and c", |v| v[0] || (v[1] && v[2]));
    truth_table(&["a", "b", "c"], "a and b or c", |v| (v[0] && v[1]) || v[2]);
    truth_table(&["a", "b", "c"], "not a and b", |v| !v[0] && v[1]);
    truth_table(&["a", "b", "c"], "not a or b", |v| !v[0] || v[1]);
    truth_table(&["a", "b", "c"], "a or not b and c", |v| v[0] || (!v[1] && v[2]));
    truth_table(&["a", "b", "c"], "not not a", |v| v[0]);
    truth_table(&["a", "b", "c"], "a and not b and not c", |v| v[0] && !v[1] && !v[2]);
}

#[test]
fn keywords_are_case_insensitive() {
    truth_table(&["a", "b", "c"], "a AND NOT b OR c", |v| (v[0] && !v[1]) || v[2]);
}

#[test]
fn parentheses_override_precedence() {
    truth_table(&["a", "b", "c"], "(a or b) and c", |v| (v[0] || v[1]) && v[2]);
    truth_table(&["a", "b", "c"], "not (a or b)", |v| !(v[0] || v[1]));
    truth_table(&["a", "b", "c"], "not (a and (b or not c))", |v| !(v[0] && (v[1] || !v[2])));
    truth_table(&["a", "b", "c"], "((a))", |v| v[0]);
}

#[test]
fn one_of_and_all_of_patterns() {
    let names = ["sel1", "sel2", "other"];
    truth_table(&names, "1 of sel*", |v| v[0] || v[1]);
    truth_table(&names, "all of sel*", |v| v[0] && v[1]);
    truth_table(&names, "1 of sel* and not other", |v| (v[0] || v[1]) && !v[2]);
    truth_table(&names, "all of sel* or other", |v| (v[0] && v[1]) || v[2]);
    truth_table(&names, "not 1 of sel*", |v| !(v[0] || v[1]));
    truth_table(&names, "1 of *1 or 1 of oth*", |v| v[0] || v[2]);
}

#[test]
fn n_of() {
    let names = ["sel_a", "sel_b", "sel_c"];
    truth_table(&names, "2 of sel_*", |v| v.iter().filter(|b| **b).count() >= 2);
    truth_table(&names, "3 of sel_*", |v| v.iter().all(|b| *b));
    truth_table(&names, "2 of them", |v| v.iter().filter(|b| **b).count() >= 2);
    // More than there are: never.
    truth_table(&names, "4 of sel_*", |_| false);
}

#[test]
fn them_excludes_underscore_identifiers() {
    let names = ["sel", "_hidden", "other"];
    truth_table(&names, "1 of them", |v| v[0] || v[2]);
    truth_table(&names, "all of them", |v| v[0] && v[2]);
    // Underscore identifiers can still be named explicitly.
    truth_table(&names, "1 of them and not _hidden", |v| (v[0] || v[2]) && !v[1]);
}

#[test]
fn condition_list_is_or() {
    let text = rule("a:\n  A: '1'\nb:\n  B: '1'\ncondition:\n  - a\n  - b");
    let events = vec![json(json!({"A": "1"})), json(json!({"B": "1"})), json(json!({"C": "1"}))];
    assert_eq!(matches(&text, &events), [true, true, false]);
}

#[test]
fn list_of_maps_is_or_and_map_is_and() {
    let text = rule("sel:\n  - A: '1'\n    B: '1'\n  - C: '1'\ncondition: sel");
    let cases = subsets(&["A", "B", "C"]);
    let events: Vec<String> = cases.iter().map(|(_, e)| e.clone()).collect();
    for ((mask, event), got) in cases.iter().zip(matches(&text, &events)) {
        let expected = (mask & 0b011 == 0b011) || (mask & 0b100 != 0);
        assert_eq!(got, expected, "{event}");
    }
}

#[test]
fn keyword_list_is_or() {
    let text = rule("keywords:\n  - 'EVILSERVICE'\n  - 'svchost.exe -n evil'\ncondition: keywords");
    check(
        &text,
        &[
            json(json!({"msg": "started evilservice"})),
            json(json!({"a": "x", "b": "C:\\svchost.exe -n evil"})),
            json(json!({"n": ["x", "EvilService"]})),
        ],
        &[json(json!({"msg": "svchost.exe -n good"})), json(json!({"evilservice": "key, not value"}))],
    );
}

#[test]
fn keyword_all_is_and() {
    let text = rule("keywords:\n  '|all':\n    - 'alpha'\n    - 'beta'\ncondition: keywords");
    check(
        &text,
        &[json(json!({"msg": "alpha and beta"})), json(json!({"a": "ALPHA", "b": "beta"}))],
        &[json(json!({"msg": "alpha"})), json(json!({"msg": "beta"}))],
    );
}

#[test]
fn keyword_searches_nested_values_and_numbers() {
    let text = rule("keywords:\n  - 'mimikatz'\ncondition: keywords");
    check(
        &text,
        &[
            json(json!({"a": {"b": {"c": "run Mimikatz.exe"}}})),
            json(json!({"a": [{"b": "x"}, {"c": ["y", "mimikatz"]}]})),
        ],
        &[json(json!({"a": {"mimikatz": 1}})), json(json!({"a": null}))],
    );
    let numbers = rule("keywords:\n  - 4688\ncondition: keywords");
    check(
        &numbers,
        &[json(json!({"EventID": 4688})), json(json!({"x": "id 4688"}))],
        &[json(json!({"EventID": 4624}))],
    );
}

#[test]
fn keyword_wildcards_and_escapes() {
    let text = rule("keywords:\n  - 'evil*thing'\n  - 'a\\*b'\ncondition: keywords");
    check(
        &text,
        &[json(json!({"m": "an EVIL big thing"})), json(json!({"m": "x a*b x"}))],
        &[json(json!({"m": "thing evil"})), json(json!({"m": "aXb"}))],
    );
}

#[test]
fn keyword_with_backslash_and_quote() {
    let text = rule("keywords:\n  - 'C:\\Windows\\Temp'\n  - 'say \"hi\"'\ncondition: keywords");
    check(
        &text,
        &[json(json!({"p": "C:\\windows\\temp\\x.exe"})), json(json!({"m": "they say \"HI\""}))],
        &[json(json!({"p": "C:/Windows/Temp"}))],
    );
}

#[test]
fn keyword_matches_values_written_with_json_unicode_escapes() {
    // JSON may escape any character as \uXXXX (Go escapes <, > and & by default); the
    // value is the same and must match.
    let text = rule("keywords:\n  - '<script>'\n  - 'mimikatz'\ncondition: keywords");
    let events = vec![r#"{"m": "x \u003cscript\u003e x"}"#.to_string(), r#"{"m": "\u006dimikatz"}"#.to_string()];
    check(&text, &events, &[]);
}

#[test]
fn keywords_combined_with_field_selections() {
    let text = rule("sel:\n  A: '1'\nkeywords:\n  - 'evil'\ncondition: sel and not keywords");
    check(
        &text,
        &[json(json!({"A": "1", "m": "good"}))],
        &[json(json!({"A": "1", "m": "evil"})), json(json!({"m": "x"}))],
    );
}

#[test]
fn search_identifiers_with_dots_and_dashes() {
    let text = rule("sel.one:\n  A: '1'\nsel-two:\n  B: '1'\ncondition: sel.one and sel-two");
    check(&text, &[json(json!({"A": "1", "B": "1"}))], &[json(json!({"A": "1"}))]);
}

#[test]
fn undefined_identifier_is_rejected() {
    assert_eq!(error_kinds(&rule("sel:\n  A: 1\ncondition: sel and nosuch")), ["condition"]);
    assert_eq!(error_kinds(&rule("sel:\n  A: 1\ncondition: 1 of nosuch*")), ["condition"]);
    // Identifiers are case-sensitive.
    assert_eq!(error_kinds(&rule("sel:\n  A: 1\ncondition: SEL")), ["condition"]);
}

#[test]
fn malformed_conditions_are_rejected() {
    for condition in ["sel and", "(sel", "sel)", "sel sel", "0 of sel", "all sel", "sel $ sel", "''"] {
        assert_eq!(error_kinds(&rule(&format!("sel:\n  A: 1\ncondition: {condition}"))), ["condition"], "{condition}");
    }
    assert_eq!(error_kinds(&rule("sel:\n  A: 1")), ["structure"]);
    assert_eq!(error_kinds("title: t\nlogsource: {product: test}\ndetection:\n  condition: sel\n"), ["structure"]);
}

#[test]
fn pipe_aggregations_are_rejected() {
    for condition in ["sel | count() > 5", "sel | count(User) by Host > 3", "sel | near other"] {
        let text = rule(&format!("sel:\n  A: 1\nother:\n  B: 1\ncondition: '{condition}'"));
        assert_eq!(error_kinds(&text), ["deprecated-aggregation"], "{condition}");
    }
}

#[test]
fn deeply_nested_conditions_are_bounded() {
    let condition = format!("{}sel{}", "(".repeat(500), ")".repeat(500));
    assert_eq!(error_kinds(&rule(&format!("sel:\n  A: 1\ncondition: '{condition}'"))), ["limit"]);
}

#[test]
fn each_document_of_a_file_is_its_own_rule() {
    let text = format!(
        "{}---\n{}",
        rule("sel:\n  A: '1'\ncondition: sel").replace("test rule", "first"),
        rule("sel:\n  B: '1'\ncondition: sel").replace("test rule", "second")
    );
    let compiled = compile_ok(&text);
    let got = matched_titles(&compiled, &[json(json!({"A": "1"})), json(json!({"A": "1", "B": "1"}))]);
    assert_eq!(got, [vec!["first".to_string()], vec!["first".to_string(), "second".to_string()]]);
}

#[test]
fn legacy_collection_global_action() {
    let text = "action: global\ntitle: t\nlogsource: {product: test}\ndetection:\n  condition: sel\n---\n\
                detection:\n  sel: {A: '1'}\n---\ndetection:\n  sel: {B: '1'}\n";
    let compiled = compile_ok(text);
    assert_eq!(compiled.rules.rules().len(), 2);
    let got = matched_titles(&compiled, &[json(json!({"A": "1"})), json(json!({"B": "1"})), json(json!({"C": "1"}))]);
    assert_eq!(got.iter().map(Vec::len).collect::<Vec<_>>(), [1, 1, 0]);
}

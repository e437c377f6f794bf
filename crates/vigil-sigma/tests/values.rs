//! Rule values (Sigma rules specification v2.1, "Detection"): wildcards, the escape
//! table, null and empty values, numbers, booleans, case, arrays and nested fields.

mod common;

use common::*;
use serde_json::json;

fn f(value: serde_json::Value) -> String {
    ev("F", value)
}

fn fs(values: &[&str]) -> Vec<String> {
    values.iter().map(|v| f(json!(v))).collect()
}

#[test]
fn star_wildcard_in_every_position() {
    check(&field_rule("F", "'*abc'"), &fs(&["abc", "xxabc", "XABC"]), &fs(&["abcx", "ab"]));
    check(&field_rule("F", "'abc*'"), &fs(&["abc", "abcxx", "ABCx"]), &fs(&["xabc", "bc"]));
    check(&field_rule("F", "'*abc*'"), &fs(&["abc", "xabcx", "xxABC"]), &fs(&["ab c", "acb"]));
    check(&field_rule("F", "'a*c'"), &fs(&["ac", "abc", "abbbc", "A\nC"]), &fs(&["ab", "xabc", "acx"]));
    check(&field_rule("F", "'a*b*c'"), &fs(&["abc", "a1b2c", "aXXbYYc"]), &fs(&["acb", "ab"]));
    check(&field_rule("F", "'**a**'"), &fs(&["a", "xay"]), &fs(&["b"]));
}

#[test]
fn star_alone_matches_any_value_but_not_null_or_missing() {
    let positive = vec![f(json!("")), f(json!("x")), f(json!(0)), f(json!(false))];
    check(&field_rule("F", "'*'"), &positive, &[f(json!(null)), ev("G", json!("x"))]);
}

#[test]
fn question_mark_wildcard_in_every_position() {
    check(&field_rule("F", "'?bc'"), &fs(&["abc", "Xbc"]), &fs(&["bc", "aabc"]));
    check(&field_rule("F", "'a?c'"), &fs(&["abc", "a c", "A?C"]), &fs(&["ac", "abbc"]));
    check(&field_rule("F", "'ab?'"), &fs(&["abc", "AB1"]), &fs(&["ab", "abcd"]));
    check(&field_rule("F", "'a??d'"), &fs(&["abcd"]), &fs(&["abd", "abcde"]));
    // `?` is one character, not one byte.
    check(&field_rule("F", "'caf?'"), &fs(&["café", "cafe"]), &fs(&["caf", "cafée"]));
    check(&field_rule("F", "'a?*'"), &fs(&["ab", "abcd"]), &fs(&["a"]));
}

#[test]
fn wildcards_with_position_modifiers() {
    check(&field_rule("F|contains", "'a?c'"), &fs(&["xxabcxx", "a-c"]), &fs(&["ac", "abbc"]));
    check(&field_rule("F|startswith", "'a*c'"), &fs(&["abcx", "acx"]), &fs(&["xac"]));
    check(&field_rule("F|endswith", "'a?c'"), &fs(&["xxabc"]), &fs(&["abcx"]));
}

// The escape table of the specification ("Escape Character"), values written in YAML
// single quotes so backslashes reach the rule unchanged.

#[test]
fn escaped_star_is_a_plain_star() {
    check(&field_rule("F", r"'a\*b'"), &fs(&["a*b", "A*B"]), &fs(&["axb", "ab", r"a\*b", r"a\xb"]));
}

#[test]
fn escaped_question_mark_is_a_plain_question_mark() {
    check(&field_rule("F", r"'a\?b'"), &fs(&["a?b"]), &fs(&["axb", r"a\xb"]));
}

#[test]
fn escaped_backslash_before_a_wildcard() {
    // `\\*`: a backslash followed by a wildcard.
    check(&field_rule("F", r"'C:\\*'"), &fs(&[r"C:\", r"C:\Windows", r"c:\x\y"]), &fs(&["C:", "C:x", "C:/x", "D:\\"]));
}

#[test]
fn three_backslashes_before_a_wildcard() {
    // `\\\*`: a plain backslash and a plain star.
    check(&field_rule("F", r"'a\\\*'"), &fs(&[r"a\*"]), &fs(&[r"a\", r"a\b", "a*", r"a\\*"]));
}

#[test]
fn four_backslashes_are_two() {
    // `\\\\`: the plain value `\\`.
    check(&field_rule("F", r"'a\\\\b'"), &fs(&[r"a\\b"]), &fs(&[r"a\b", r"a\\\\b"]));
    // Three backslashes before other text also mean two.
    check(&field_rule("F", r"'a\\\b'"), &fs(&[r"a\\b"]), &fs(&[r"a\b"]));
}

#[test]
fn plain_backslash_single_or_double() {
    let positive = fs(&[r"C:\Windows", r"c:\windows"]);
    let negative = fs(&[r"C:\\Windows", "C:Windows", "C:/Windows"]);
    check(&field_rule("F", r"'C:\Windows'"), &positive, &negative);
    check(&field_rule("F", r"'C:\\Windows'"), &positive, &negative);
    // A trailing backslash.
    check(&field_rule("F|endswith", r"'\System32\'"), &fs(&[r"C:\Windows\System32\"]), &fs(&[r"C:\Windows\System32"]));
}

#[test]
fn null_matches_missing_or_null() {
    check(
        &field_rule("F", "null"),
        &[f(json!(null)), ev("G", json!("x")), json(json!({}))],
        &[f(json!("")), f(json!("x")), f(json!(0)), f(json!(false))],
    );
    // The spec's "not null" construct.
    let rule = rule("sel:\n  G: x\nfilter:\n  F: null\ncondition: sel and not filter");
    check(
        &rule,
        &[json(json!({"G": "x", "F": "y"})), json(json!({"G": "x", "F": ""}))],
        &[json(json!({"G": "x"})), json(json!({"G": "x", "F": null}))],
    );
}

#[test]
fn empty_string_matches_only_empty() {
    check(
        &field_rule("F", "''"),
        &[f(json!(""))],
        &[f(json!(" ")), f(json!("x")), f(json!(null)), ev("G", json!("")), f(json!(0))],
    );
    // The spec's valid example: empty or null via two selections.
    let rule = rule(
        "selection_main:\n  A: something\nselection_empty1:\n  B: ''\nselection_empty2:\n  B: null\n\
         condition: selection_main and 1 of selection_empty*",
    );
    check(
        &rule,
        &[json(json!({"A": "something", "B": ""})), json(json!({"A": "something"}))],
        &[json(json!({"A": "something", "B": "x"}))],
    );
}

#[test]
fn numbers_match_numbers_and_numeric_strings() {
    let positive = vec![f(json!(4688)), f(json!("4688")), f(json!(4688.0))];
    let negative = vec![f(json!(4689)), f(json!("04688")), f(json!("4688 ")), f(json!(46880))];
    check(&field_rule("F", "4688"), &positive, &negative);
    check(&field_rule("F", "'4688'"), &positive, &negative);
    check(&field_rule("F", "[4624, 4688]"), &positive, &negative);
    // Floats and negatives.
    check(&field_rule("F", "1.5"), &[f(json!(1.5)), f(json!("1.5"))], &[f(json!(15)), f(json!(1.51))]);
    check(&field_rule("F", "-3"), &[f(json!(-3)), f(json!("-3"))], &[f(json!(3))]);
    // Position modifiers apply to the number's text.
    check(&field_rule("F|startswith", "46"), &[f(json!(4688))], &[f(json!(5046))]);
    // Large integers compare on their digits.
    check(&field_rule("F", "18446744073709551615"), &[f(json!(18446744073709551615u64))], &[f(json!(1))]);
}

#[test]
fn booleans() {
    check(
        &field_rule("F", "true"),
        &[f(json!(true)), f(json!("true")), f(json!("TRUE"))],
        &[f(json!(false)), f(json!(1)), f(json!("yes"))],
    );
    check(&field_rule("F", "false"), &[f(json!(false)), f(json!("false"))], &[f(json!(true)), f(json!(0))]);
}

#[test]
fn matching_is_case_insensitive_by_default() {
    check(&field_rule("F", "Evil"), &fs(&["evil", "EVIL", "eViL"]), &fs(&["evil!", "evl"]));
    check(&field_rule("F", "'*PowerShell*'"), &fs(&["c:\\powershell.exe", "POWERSHELL"]), &fs(&["power shell"]));
}

#[test]
fn non_ascii_case_folding() {
    // Behaviour documented by this test: non-ASCII letters fold case too (Unicode simple
    // case folding), in exact, position and wildcard matches.
    check(&field_rule("F", "'É'"), &fs(&["é", "É"]), &fs(&["e", "E"]));
    check(&field_rule("F", "'é'"), &fs(&["É"]), &fs(&["e"]));
    check(&field_rule("F|contains", "'École'"), &fs(&["l'école", "ÉCOLE"]), &fs(&["ecole"]));
    check(&field_rule("F|startswith", "'Ärger'"), &fs(&["ärger x"]), &fs(&["arger"]));
    check(&field_rule("F", "'straße'"), &fs(&["STRAßE", "Straße"]), &fs(&["strasse"]));
    check(&field_rule("F", "'Ω*'"), &fs(&["ωmega"]), &fs(&["omega"]));
    // Caseless characters are compared as they are.
    check(&field_rule("F|contains", "'日本'"), &fs(&["x日本x"]), &fs(&["日"]));
}

#[test]
fn arrays_in_events_match_on_any_element() {
    check(&field_rule("F", "b"), &[f(json!(["a", "b"])), f(json!(["B"]))], &[f(json!(["a", "c"])), f(json!([]))]);
    check(&field_rule("F|contains", "vil"), &[f(json!(["x", "evil"]))], &[f(json!(["x", "y"]))]);
    check(&field_rule("F", "5"), &[f(json!([1, 5]))], &[f(json!([1, 6]))]);
    // Arrays of objects: the dotted path reaches into each element.
    check(
        &field_rule("a.b", "y"),
        &[json(json!({"a": [{"b": "x"}, {"b": "y"}]}))],
        &[json(json!({"a": [{"b": "x"}]}))],
    );
}

#[test]
fn nested_objects_by_dotted_field_names() {
    check(
        &field_rule("a.b.c", "v"),
        &[json(json!({"a": {"b": {"c": "v"}}}))],
        &[json(json!({"a": {"b": {"c": "w"}}})), json(json!({"a": {"b": "v"}})), json(json!({"c": "v"}))],
    );
    // A flat key that contains dots names the same field.
    check(&field_rule("a.b.c", "v"), &[json(json!({"a.b.c": "v"}))], &[]);
    // Objects are not scalar values.
    check(&field_rule("a", "'*'"), &[json(json!({"a": "x"}))], &[json(json!({"a": {"b": "x"}}))]);
}

#[test]
fn field_names_are_case_insensitive() {
    // Documented behaviour: field names compare ASCII-case-insensitively (Windows field
    // names are not consistently cased).
    check(&field_rule("commandline", "x"), &[ev("CommandLine", json!("x")), ev("COMMANDLINE", json!("x"))], &[]);
    check(&field_rule("A.B", "x"), &[json(json!({"a": {"b": "x"}}))], &[]);
}

#[test]
fn value_lists_are_or() {
    check(&field_rule("F", "[a, b, 'c*']"), &fs(&["a", "b", "cat"]), &fs(&["d", "ab"]));
}

#[test]
fn values_are_not_trimmed() {
    check(&field_rule("F", "' x '"), &fs(&[" x "]), &fs(&["x", " x"]));
}

#[test]
fn very_long_values_and_events() {
    let long = "a".repeat(10_000);
    check(&field_rule("F|contains", "'aab'"), &[f(json!(format!("{long}b")))], &[f(json!(long.clone()))]);
    check(&field_rule("F", &format!("'{long}'")), &[f(json!(long.to_uppercase()))], &[f(json!(format!("{long}a")))]);
}

#[test]
fn unquoted_float_rule_values_match_their_written_text() {
    // YAML reads `2.0` as a float; Sigma treats values as strings, and pySigma renders
    // the value as `2.0`. Number events keep matching numerically.
    check(&field_rule("F", "2.0"), &[f(json!("2.0")), f(json!(2.0)), f(json!(2))], &[f(json!("2.5"))]);
}

#[test]
fn many_literals_on_one_field() {
    // Enough literal bytes on one field for the engine to switch automaton kinds; every
    // occurrence must still be found, overlapping ones included.
    let values: Vec<String> = (0..4000).map(|i| format!("'needle-{i:05}-xxxxxxxxxx'")).collect();
    let mut list = values.join(", ");
    list.push_str(", 'aab'");
    let contains = field_rule("F|contains", &format!("[{list}]"));
    check(
        &contains,
        &fs(&["..NEEDLE-03999-XXXXXXXXXX..", "needle-00000-xxxxxxxxxx", "xaaab"]),
        &fs(&["needle-04000-xxxxxxxxxx", "needle-0399-xxxxxxxxxx", "aa b"]),
    );
    let endswith = field_rule("F|endswith", &format!("[{list}]"));
    check(&endswith, &fs(&["aaab", "x needle-01234-xxxxxxxxxx"]), &fs(&["aaba", "needle-01234-xxxxxxxxxxy"]));
}

//! Global filters (Sigma filters specification v2.1). Vigil ANDs a filter's condition
//! onto the condition of each rule it targets (pySigma's behaviour), so filters that
//! suppress matches are written `condition: not selection`.

mod common;

use common::*;
use serde_json::json;

const RULE_A: &str = "title: rule a
id: 6f3e2987-db24-4c78-a860-b4f4095a7095
name: rule_a
logsource: {product: test, category: process_creation}
detection:
  sel:
    Image|endswith: '\\rar.exe'
  condition: sel
";

const RULE_B: &str = "title: rule b
id: df0841c0-9846-4e9f-ad8a-7df91571771b
name: rule_b
logsource: {product: test, category: process_creation}
detection:
  sel:
    Image|endswith: '\\rar.exe'
  condition: sel
";

/// Rule of another logsource, with the same selection.
const RULE_OTHER: &str = "title: rule other
id: 11111111-2222-3333-4444-555555555555
logsource: {product: other}
detection:
  sel:
    Image|endswith: '\\rar.exe'
  condition: sel
";

fn filter(targets: &str, logsource: &str, condition: &str) -> String {
    format!(
        "title: Filter Administrator account
id: 3f1b0b6a-0000-4000-8000-000000000001
logsource: {logsource}
filter:
  rules: {targets}
  selection:
    User|startswith: 'adm_'
  condition: {condition}
"
    )
}

fn collection(docs: &[&str]) -> String {
    docs.join("---\n")
}

fn events() -> Vec<String> {
    vec![
        json(json!({"Image": "C:\\tools\\rar.exe", "User": "adm_alice"})),
        json(json!({"Image": "C:\\tools\\rar.exe", "User": "bob"})),
        json(json!({"Image": "C:\\tools\\rar.exe"})),
    ]
}

/// Rule titles matched per event; events are declared `product: test, category:
/// process_creation`, and the `other` rule is checked with its own logsource.
fn titles(text: &str) -> Vec<Vec<String>> {
    let compiled = compile_ok(text);
    let set = &compiled.rules;
    let mut evaluator = vigil_sigma::Evaluator::new(set);
    let test = vigil_event::LogSource::new(Some("test"), Some("process_creation"), None);
    let other = vigil_event::LogSource::new(Some("other"), None, None);
    let mut out = Vec::new();
    events()
        .iter()
        .map(|event| {
            let mut titles = Vec::new();
            for declared in [&test, &other] {
                out.clear();
                evaluator.evaluate_json(event, Some(declared), &mut out).expect("valid JSON");
                titles.extend(out.iter().map(|r| set.rules()[*r as usize].meta.title.clone()));
            }
            titles
        })
        .collect()
}

fn t(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

#[test]
fn without_filter_every_rule_fires() {
    let text = collection(&[RULE_A, RULE_B, RULE_OTHER]);
    let all = t(&["rule a", "rule b", "rule other"]);
    assert_eq!(titles(&text), [all.clone(), all.clone(), all]);
}

#[test]
fn filter_applies_to_rules_by_id() {
    let f = filter("[6f3e2987-db24-4c78-a860-b4f4095a7095]", "{product: test}", "not selection");
    let text = collection(&[RULE_A, RULE_B, RULE_OTHER, &f]);
    assert_eq!(
        titles(&text),
        [t(&["rule b", "rule other"]), t(&["rule a", "rule b", "rule other"]), t(&["rule a", "rule b", "rule other"]),]
    );
}

#[test]
fn filter_applies_to_rules_by_name() {
    let f = filter("[rule_b]", "{product: test}", "not selection");
    let text = collection(&[RULE_A, RULE_B, RULE_OTHER, &f]);
    assert_eq!(titles(&text)[0], t(&["rule a", "rule other"]));
}

#[test]
fn filter_with_several_targets_and_before_its_rules() {
    // The spec's example lists two rule ids; the filter document may come first.
    let f = filter(
        "\n    - 6f3e2987-db24-4c78-a860-b4f4095a7095 # Data Compressed - rar.exe\n    - rule_b",
        "{category: process_creation, product: test}",
        "not selection",
    );
    let text = collection(&[&f, RULE_A, RULE_B, RULE_OTHER]);
    assert_eq!(titles(&text)[0], t(&["rule other"]));
    assert_eq!(titles(&text)[1], t(&["rule a", "rule b", "rule other"]));
}

#[test]
fn filter_rules_any_applies_to_rules_its_logsource_covers() {
    let f = filter("any", "{product: test}", "not selection");
    let text = collection(&[RULE_A, RULE_B, RULE_OTHER, &f]);
    assert_eq!(
        titles(&text),
        [t(&["rule other"]), t(&["rule a", "rule b", "rule other"]), t(&["rule a", "rule b", "rule other"]),]
    );
}

#[test]
fn filter_whose_logsource_does_not_cover_the_rule_is_not_applied() {
    let f = filter("[rule_a]", "{product: test, category: network_connection}", "not selection");
    let text = collection(&[RULE_A, RULE_B, &f]);
    let compiled = compile_ok(&text);
    assert_eq!(compiled.warnings.len(), 1, "{:?}", compiled.warnings);
    assert!(compiled.warnings[0].message.contains("filter"), "{:?}", compiled.warnings);
    assert_eq!(titles(&text)[0], t(&["rule a", "rule b"]));
    // `rules: any` with another product.
    let f = filter("any", "{product: elsewhere}", "not selection");
    assert_eq!(titles(&collection(&[RULE_A, &f]))[0], t(&["rule a"]));
}

#[test]
fn filter_targeting_an_unknown_rule_warns() {
    let f = filter("[no-such-rule]", "{product: test}", "not selection");
    let compiled = compile_ok(&collection(&[RULE_A, &f]));
    assert_eq!(compiled.warnings.len(), 1);
    assert_eq!(titles(&collection(&[RULE_A, &f]))[0], t(&["rule a"]));
}

#[test]
fn filter_condition_is_anded_onto_the_rule() {
    // The spec's example is written `condition: selection`; ANDed, it restricts the
    // rule to the selected events.
    let f = filter("[rule_a]", "{product: test}", "selection");
    let text = collection(&[RULE_A, &f]);
    assert_eq!(titles(&text), [t(&["rule a"]), t(&[]), t(&[])]);
}

#[test]
fn several_filters_on_one_rule_all_apply() {
    let f1 = filter("[rule_a]", "{product: test}", "not selection");
    let f2 = "title: second filter
logsource: {product: test}
filter:
  rules: [rule_a]
  selection:
    User: bob
  condition: not selection
";
    let text = collection(&[RULE_A, &f1, f2]);
    assert_eq!(titles(&text), [t(&[]), t(&[]), t(&["rule a"])]);
}

#[test]
fn filter_identifiers_do_not_leak_into_the_rules_quantifiers() {
    // The rule's `all of them` / `1 of sel*` must not pick up the filter's `selection`.
    let rule = "title: quantified
name: quantified
logsource: {product: test, category: process_creation}
detection:
  sel_image:
    Image|endswith: '\\rar.exe'
  condition: all of them and 1 of sel*
";
    let f = filter("[quantified]", "{product: test}", "not selection");
    assert_eq!(titles(&collection(&[rule, &f])), [t(&[]), t(&["quantified"]), t(&["quantified"])]);
}

#[test]
fn filter_with_its_own_quantifiers() {
    let f = "title: quantified filter
logsource: {product: test}
filter:
  rules: any
  filter_admin:
    User|startswith: 'adm_'
  filter_nouser:
    User: null
  condition: not 1 of filter_*
";
    assert_eq!(titles(&collection(&[RULE_A, f])), [t(&[]), t(&["rule a"]), t(&[])]);
    let f = f.replace("not 1 of filter_*", "not 1 of them");
    assert_eq!(titles(&collection(&[RULE_A, &f])), [t(&[]), t(&["rule a"]), t(&[])]);
}

#[test]
fn filter_applies_to_every_condition_of_a_condition_list() {
    let rule = "title: listed
name: listed
logsource: {product: test, category: process_creation}
detection:
  a:
    Image|endswith: '\\rar.exe'
  b:
    Image|contains: 'tools'
  condition:
    - a
    - b
";
    let f = filter("[listed]", "{product: test}", "not selection");
    assert_eq!(titles(&collection(&[rule, &f])), [t(&[]), t(&["listed"]), t(&["listed"])]);
}

#[test]
fn malformed_filters_are_rejected() {
    let no_rules =
        "title: f\nlogsource: {product: test}\nfilter:\n  selection: {User: x}\n  condition: not selection\n";
    assert_eq!(error_kinds(no_rules), ["structure"]);
    let no_logsource = "title: f\nfilter:\n  rules: any\n  selection: {User: x}\n  condition: not selection\n";
    assert_eq!(error_kinds(no_logsource), ["structure"]);
    let no_condition = "title: f\nlogsource: {product: test}\nfilter:\n  rules: any\n  selection: {User: x}\n";
    assert_eq!(error_kinds(no_condition), ["structure"]);
}

#[test]
fn filter_with_a_bad_condition_rejects_the_rules_it_targets() {
    // An undefined identifier in the filter: the targeted rule cannot be compiled as
    // intended, so it is rejected rather than run unfiltered.
    let f = filter("[rule_a]", "{product: test}", "not nosuch");
    let compiled = compile_with(&collection(&[RULE_A, RULE_B, &f]), &no_pipeline());
    let kinds: Vec<_> = compiled.errors.iter().map(|e| (e.title.clone(), e.error.kind())).collect();
    assert_eq!(kinds, [(Some("rule a".to_string()), "condition")]);
    assert_eq!(compiled.rules.rules().len(), 1);
}

//! Property tests: invariants of value matching and evaluation that must hold for any
//! input, checked on generated values and events.

mod common;

use common::*;
use proptest::prelude::*;
use serde_yaml::{Mapping, Value};
use vigil_sigma::value::Pattern;
use vigil_sigma::{Compiled, Evaluator};

/// Escapes a text for Sigma's string syntax so that it is matched literally.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A rule with one selection `{key: value}` and the given condition, serialised by
/// serde_yaml so that any value text survives the YAML round trip.
fn one_item_rule(key: &str, value: &str, condition: &str) -> String {
    let mut sel = Mapping::new();
    sel.insert(Value::from(key), Value::from(value));
    let mut detection = Mapping::new();
    detection.insert(Value::from("sel"), Value::Mapping(sel));
    detection.insert(Value::from("condition"), Value::from(condition));
    let mut logsource = Mapping::new();
    logsource.insert(Value::from("product"), Value::from("test"));
    let mut doc = Mapping::new();
    doc.insert(Value::from("title"), Value::from("prop"));
    doc.insert(Value::from("logsource"), Value::Mapping(logsource));
    doc.insert(Value::from("detection"), Value::Mapping(detection));
    serde_yaml::to_string(&Value::Mapping(doc)).expect("serialisable")
}

fn matches_one(rule: &str, event: &str) -> bool {
    matches(rule, &[event.to_string()])[0]
}

fn f(value: &str) -> String {
    ev("F", serde_json::Value::from(value))
}

/// Reference glob matcher: `*` any run, `?` one character, case-insensitive ASCII.
fn glob(pattern: &[char], text: &[char]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some(('*', rest)) => (0..=text.len()).any(|i| glob(rest, &text[i..])),
        Some(('?', rest)) => !text.is_empty() && glob(rest, &text[1..]),
        Some((c, rest)) => text.first().is_some_and(|t| t.eq_ignore_ascii_case(c)) && glob(rest, &text[1..]),
    }
}

/// A fixed set of rules of different kinds, to check evaluation invariants on.
const RULESET: &str = "title: exact
logsource: {product: test}
detection: {sel: {A: alpha}, condition: sel}
---
title: contains
logsource: {product: test}
detection: {sel: {B|contains: et}, condition: sel}
---
title: wildcard
logsource: {product: test}
detection: {sel: {C: 'g*m?a'}, condition: sel}
---
title: keyword
logsource: {product: test}
detection: {kw: [delta], condition: kw}
---
title: negated
logsource: {product: test}
detection: {sel: {A: beta}, condition: not sel}
---
title: 'null'
logsource: {product: test}
detection: {sel: {D: null}, condition: sel}
---
title: exists
logsource: {product: test}
detection: {sel: {E|exists: true}, condition: sel}
---
title: regex
logsource: {product: test}
detection: {sel: {B|re: '^[a-g]+$'}, condition: sel}
---
title: numeric
logsource: {product: test}
detection: {sel: {N|gte: 10}, condition: sel}
---
title: all
logsource: {product: test}
detection: {sel: {B|contains|all: [al, ph]}, condition: sel}
";

fn ruleset() -> &'static Compiled {
    static SET: std::sync::OnceLock<Compiled> = std::sync::OnceLock::new();
    SET.get_or_init(|| compile_ok(RULESET))
}

fn field_values() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![
        prop::sample::select(vec!["alpha", "beta", "gamma", "delta", "ALPHA", "gumma", "", "et"])
            .prop_map(serde_json::Value::from),
        "[a-z]{0,6}".prop_map(serde_json::Value::from),
        (0i64..20).prop_map(serde_json::Value::from),
        Just(serde_json::Value::Null),
        Just(serde_json::json!(["alpha", "x"])),
        Just(serde_json::json!({"inner": "delta"})),
    ]
}

/// Events as lists of distinct (field, value) pairs.
fn events() -> impl Strategy<Value = Vec<(String, serde_json::Value)>> {
    prop::collection::btree_map(
        prop::sample::select(vec!["A", "B", "C", "D", "E", "N", "Other", "x.y"]).prop_map(str::to_string),
        field_values(),
        0..7,
    )
    .prop_map(|m| m.into_iter().collect())
}

fn to_json(fields: &[(String, serde_json::Value)]) -> String {
    // Keys in the given order (serde_json's Map would sort them).
    let parts: Vec<String> =
        fields.iter().map(|(k, v)| format!("{}:{}", serde_json::Value::from(k.as_str()), v)).collect();
    format!("{{{}}}", parts.join(","))
}

fn titles_of(evaluator: &mut Evaluator<'_>, json: &str) -> Vec<String> {
    let set = ruleset();
    let mut out = Vec::new();
    evaluator.evaluate_json(json, Some(&test_logsource()), &mut out).expect("valid JSON");
    out.iter().map(|r| set.rules.rules()[*r as usize].meta.title.clone()).collect()
}

/// A rule whose only search is the keyword list `words`, each matched literally.
fn keyword_rule(words: &[String]) -> String {
    let list: Vec<Value> = words.iter().map(|w| Value::from(escape(w))).collect();
    let mut detection = Mapping::new();
    detection.insert(Value::from("keywords"), Value::Sequence(list));
    detection.insert(Value::from("condition"), Value::from("keywords"));
    let mut logsource = Mapping::new();
    logsource.insert(Value::from("product"), Value::from("test"));
    let mut doc = Mapping::new();
    doc.insert(Value::from("title"), Value::from("keywords"));
    doc.insert(Value::from("logsource"), Value::Mapping(logsource));
    doc.insert(Value::from("detection"), Value::Mapping(detection));
    serde_yaml::to_string(&Value::Mapping(doc)).expect("serialisable")
}

/// Reference keyword semantics: some scalar value of the event (as serde_json prints
/// it) contains some word, ASCII case ignored. Keys are not values.
fn keyword_reference(event: &serde_json::Value, words: &[String]) -> bool {
    fn scalars(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::String(s) => out.push(s.clone()),
            serde_json::Value::Number(n) => out.push(n.to_string()),
            serde_json::Value::Bool(b) => out.push(b.to_string()),
            serde_json::Value::Array(items) => items.iter().for_each(|i| scalars(i, out)),
            serde_json::Value::Object(map) => map.values().for_each(|i| scalars(i, out)),
            serde_json::Value::Null => {}
        }
    }
    let mut values = Vec::new();
    scalars(event, &mut values);
    values.iter().any(|v| words.iter().any(|w| v.to_ascii_lowercase().contains(&w.to_ascii_lowercase())))
}

/// Nested events over a small alphabet (with `/`, quotes and backslashes, which JSON
/// escapes or may), so that words often occur in values, in keys, and across the
/// boundary of two neighbouring values.
fn keyword_events() -> impl Strategy<Value = serde_json::Value> {
    let text = "[abAB/\"\\\\ 1]{0,6}";
    let leaf = prop_oneof![
        text.prop_map(serde_json::Value::from),
        (0i64..200).prop_map(serde_json::Value::from),
        Just(serde_json::Value::Bool(true)),
        Just(serde_json::Value::Null),
    ];
    leaf.prop_recursive(3, 24, 4, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            prop::collection::btree_map(text, inner, 0..4)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Cases per property: `PROPTEST_CASES` or 200.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(200)
}

proptest! {
    // 200 cases unless PROPTEST_CASES says otherwise. No regression files: a failing
    // case is printed, and belongs in a unit test.
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::with_cases(cases()) })]

    #[test]
    fn a_literal_matches_itself(s in "\\PC{0,24}") {
        prop_assert!(matches_one(&one_item_rule("F", &escape(&s), "sel"), &f(&s)), "{:?}", s);
        prop_assert!(matches_one(&one_item_rule("F|cased", &escape(&s), "sel"), &f(&s)), "{:?}", s);
    }

    #[test]
    fn a_literal_matches_itself_in_any_ascii_case(s in "[ -~]{1,24}", flips in prop::collection::vec(any::<bool>(), 24)) {
        let varied: String = s
            .chars()
            .zip(flips.iter().cycle())
            .map(|(c, flip)| if *flip { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() })
            .collect();
        prop_assert!(matches_one(&one_item_rule("F", &escape(&s), "sel"), &f(&varied)), "{:?} vs {:?}", s, varied);
        // Case-sensitive matching tells them apart exactly when they differ.
        let cased = matches_one(&one_item_rule("F|cased", &escape(&s), "sel"), &f(&varied));
        prop_assert_eq!(cased, s == varied);
    }

    #[test]
    fn contains_of_any_substring_matches(s in "\\PC{1,30}", a in 0usize..30, b in 0usize..30) {
        let chars: Vec<char> = s.chars().collect();
        let (lo, hi) = (a.min(b) % chars.len(), (a.max(b) % chars.len()) + 1);
        let sub: String = chars[lo..hi.max(lo + 1)].iter().collect();
        prop_assert!(matches_one(&one_item_rule("F|contains", &escape(&sub), "sel"), &f(&s)), "{:?} in {:?}", sub, s);
        let prefix: String = chars[..hi].iter().collect();
        prop_assert!(matches_one(&one_item_rule("F|startswith", &escape(&prefix), "sel"), &f(&s)));
        let suffix: String = chars[lo..].iter().collect();
        prop_assert!(matches_one(&one_item_rule("F|endswith", &escape(&suffix), "sel"), &f(&s)));
    }

    #[test]
    fn wildcards_agree_with_a_reference_glob(pattern in "[ab*?]{0,7}", text in "[abAB]{0,8}") {
        let p: Vec<char> = pattern.chars().collect();
        let t: Vec<char> = text.chars().collect();
        let expected = glob(&p, &t);
        prop_assert_eq!(matches_one(&one_item_rule("F", &pattern, "sel"), &f(&text)), expected, "{:?} on {:?}", pattern, text);
    }

    #[test]
    fn not_inverts_a_selection(pattern in "[ab*?]{1,5}", text in "[ab]{0,6}", modifier in prop::sample::select(vec!["", "|contains", "|startswith", "|endswith", "|cased"])) {
        let key = format!("F{modifier}");
        let event = f(&text);
        let plain = matches_one(&one_item_rule(&key, &pattern, "sel"), &event);
        let negated = matches_one(&one_item_rule(&key, &pattern, "not sel"), &event);
        prop_assert_ne!(plain, negated);
    }

    #[test]
    fn escaping_round_trips_through_the_pattern_parser(s in "[a\\\\*?%b ]{0,16}|\\PC{0,16}") {
        prop_assert_eq!(Pattern::parse(&escape(&s)), Pattern::literal(&s));
        prop_assert!(!Pattern::parse(&escape(&s)).has_wildcards());
    }

    #[test]
    fn escaped_wildcards_are_matched_literally(s in "[ab*?\\\\]{1,8}", other in "[ab]{1,3}") {
        let rule = one_item_rule("F", &escape(&s), "sel");
        prop_assert!(matches_one(&rule, &f(&s)));
        // Any text other than the literal value does not match.
        let different = format!("{s}{other}");
        prop_assert!(!matches_one(&rule, &f(&different)));
    }

    #[test]
    fn evaluation_is_deterministic_and_independent_of_field_order(fields in events(), seed in any::<u64>()) {
        let set = &ruleset().rules;
        let json = to_json(&fields);
        let mut shuffled = fields.clone();
        // A deterministic permutation from the seed.
        let n = shuffled.len();
        for i in (1..n).rev() {
            let j = (seed.rotate_left(i as u32) as usize) % (i + 1);
            shuffled.swap(i, j);
        }
        let json_shuffled = to_json(&shuffled);
        let mut evaluator = Evaluator::new(set);
        let first = titles_of(&mut evaluator, &json);
        prop_assert_eq!(&first, &titles_of(&mut evaluator, &json), "same evaluator, same event: {}", json);
        prop_assert_eq!(&first, &titles_of(&mut evaluator, &json_shuffled), "{} vs {}", json, json_shuffled);
        let mut fresh = Evaluator::new(set);
        prop_assert_eq!(&first, &titles_of(&mut fresh, &json_shuffled));
        // The parsed-value entry point agrees with the JSON-text one.
        let value: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
        let mut out = Vec::new();
        fresh.evaluate_value(&value, Some(&test_logsource()), &mut out);
        let via_value: Vec<String> = out.iter().map(|r| set.rules()[*r as usize].meta.title.clone()).collect();
        prop_assert_eq!(&first, &via_value, "evaluate_value on {}", json);
    }

    #[test]
    fn evaluator_state_does_not_leak_between_events(stream in prop::collection::vec(events(), 1..8)) {
        let set = &ruleset().rules;
        let mut reused = Evaluator::new(set);
        for fields in &stream {
            let json = to_json(fields);
            let mut fresh = Evaluator::new(set);
            prop_assert_eq!(titles_of(&mut reused, &json), titles_of(&mut fresh, &json), "{}", json);
        }
    }

    #[test]
    fn arbitrary_event_text_never_panics(text in "\\PC{0,64}") {
        let set = &ruleset().rules;
        let mut evaluator = Evaluator::new(set);
        let mut out = Vec::new();
        let _ = evaluator.evaluate_json(&text, Some(&test_logsource()), &mut out);
        let _ = evaluator.evaluate_json(&text, None, &mut out);
    }

    #[test]
    fn keywords_agree_with_a_reference_search_of_the_values(
        event in keyword_events(),
        words in prop::collection::vec("[abAB/\"\\\\ 1]{1,5}", 1..6),
    ) {
        let json = event.to_string();
        let expected = keyword_reference(&event, &words);
        prop_assert_eq!(matches_one(&keyword_rule(&words), &json), expected, "{} {:?}", json, words);
    }
}

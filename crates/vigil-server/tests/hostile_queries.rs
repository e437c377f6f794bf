//! Whatever a caller puts in a query string or an id, the answer is never a 5xx and an
//! error is always JSON. Requests go byte for byte over TCP, unnormalised.

mod common;

use std::sync::OnceLock;

use common::*;
use proptest::prelude::*;

fn server() -> &'static TestServer {
    static SERVER: OnceLock<TestServer> = OnceLock::new();
    SERVER.get_or_init(|| TestServer::start_with(config(), fill_store))
}

const PATHS: [&str; 4] = ["/api/events", "/api/alerts", "/api/stats", "/api/dead-letters"];
const NAMES: [&str; 17] = [
    "from",
    "to",
    "class_uid",
    "source",
    "host",
    "src_ip",
    "user",
    "q",
    "cursor",
    "limit",
    "status",
    "rule_id",
    "level",
    "bucket",
    "top",
    "x",
    "",
];

/// Values that have broken parsers before: extremes, signs, encodings, FTS5 syntax.
const NASTY: [&str; 30] = [
    "",
    "0",
    "-1",
    "9223372036854775807",
    "-9223372036854775808",
    "99999999999999999999",
    "1e3",
    "0x10",
    "%201",
    "%00",
    "%FF%FE",
    "%",
    "%zz",
    "+",
    "%2B01:00",
    "2026-11-24T10:00:00Z",
    "2026-02-30",
    "%22",
    "%22unbalanced",
    "NEAR(a%20b",
    "*",
    "a%20OR",
    "col:x",
    "^x",
    "%27;DROP%20TABLE%20events;--",
    "1h",
    "0m",
    "open",
    "AAAAAAAAAAAAAAAA",
    "%E2%80%AE",
];

fn percent_encode(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(&NASTY[..]).prop_map(str::to_owned),
        prop::collection::vec(any::<u8>(), 0..40).prop_map(|bytes| percent_encode(&bytes)),
        // Raw characters that are legal in a request target, `%`, `&` and `=` included.
        "[-A-Za-z0-9._~!$'()*+,;=:@/?%&]{0,30}",
        (1usize..6000).prop_map(|n| "a".repeat(n)),
    ]
}

fn query() -> impl Strategy<Value = String> {
    prop::collection::vec((prop::sample::select(&NAMES[..]), value()), 0..5)
        .prop_map(|pairs| pairs.iter().map(|(name, value)| format!("{name}={value}")).collect::<Vec<_>>().join("&"))
}

fn assert_sound(target: &str, status: u16, body: &str) {
    assert!(status < 500, "{target} -> {status} {body}");
    if status >= 400 {
        let json: serde_json::Value =
            serde_json::from_str(body).unwrap_or_else(|_| panic!("{target} -> {status} non-JSON body {body:?}"));
        assert!(json["error"].is_string(), "{target} -> {body}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn hostile_query_strings_never_yield_a_5xx(path in prop::sample::select(&PATHS[..]), query in query()) {
        let target = format!("{path}?{query}");
        let (status, body) = server().raw_get(&target);
        assert_sound(&target, status, &body);
    }

    #[test]
    fn hostile_ids_never_yield_a_5xx(kind in prop::sample::select(&["events", "alerts"][..]), id in value()) {
        let target = format!("/api/{kind}/{}", id.replace(['?', '/'], "_"));
        let (status, body) = server().raw_get(&target);
        assert_sound(&target, status, &body);
    }
}

#[test]
fn known_hostile_fts_queries_are_400_not_500() {
    for q in ["%22", "NEAR(", "a%20AND", "OR", "(((", "%7B", "col%3Ax", "%5Ex", "*", "a%20NOT"] {
        let target = format!("/api/events?q={q}");
        let (status, body) = server().raw_get(&target);
        assert_sound(&target, status, &body);
    }
}

//! The parsed form (`SigmaDocument`, Debug) of representative rule files, pinned with
//! insta snapshots: a change of the parser's output shows up as a snapshot diff.
//! After an intended change: `INSTA_UPDATE=always cargo test -p vigil-sigma --test
//! snapshots`, then review the diff of `tests/snapshots/`.

mod common;

use common::fixture;
use vigil_sigma::parse::{parse_documents, ParsedDocument};

fn parse_fixture(name: &str) -> Vec<ParsedDocument> {
    let text = std::fs::read_to_string(fixture(name)).expect("fixture");
    // No source path: the snapshot must not depend on where the checkout lives.
    parse_documents(&text, None)
}

#[test]
fn rule_with_modifiers() {
    insta::assert_debug_snapshot!(parse_fixture("rule_with_modifiers.yml"));
}

#[test]
fn correlation_chain() {
    insta::assert_debug_snapshot!(parse_fixture("correlation_chain.yml"));
}

#[test]
fn global_filter() {
    insta::assert_debug_snapshot!(parse_fixture("global_filter.yml"));
}

#[test]
fn legacy_collection() {
    insta::assert_debug_snapshot!(parse_fixture("legacy_collection.yml"));
}

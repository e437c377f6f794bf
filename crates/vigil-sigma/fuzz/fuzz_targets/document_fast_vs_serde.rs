//! Differential: the hand-written JSON walker `Document::load_json` tries first against
//! the serde walker it falls back to. On any input the fast walker takes, serde_json
//! must take it too and both must extract the same values; and `load_json` as a whole
//! must agree with the serde walker, errors included.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_sigma::document::fast_walker_disagreement;

/// Plain, dotted, Windows-flattened and non-ASCII names, as rules read them.
const NAMES: &[&str] = &[
    "Image",
    "EventID",
    "Provider_Name",
    "Channel",
    "Event.System.Channel",
    "TimeCreated_SystemTime",
    "Param1",
    "a",
    "a.b",
    "x.y.z",
    "obj",
    "n",
    "Name",
    "é",
];

fuzz_target!(|data: &[u8]| {
    let Ok(json) = std::str::from_utf8(data) else { return };
    if let Err(difference) = fast_walker_disagreement(NAMES, json) {
        panic!("{difference}");
    }
});

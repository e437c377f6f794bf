//! Differential: the hand-written JSON walker `Document::load_json` tries first against
//! the serde walker it falls back to. On any input the fast walker takes, serde_json
//! must take it too and both must extract the same values; and `load_json` as a whole
//! must agree with the serde walker, errors included.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_sigma::document::fast_walker_disagreement;

fuzz_target!(|data: &[u8]| {
    let Ok(json) = std::str::from_utf8(data) else { return };
    if let Err(difference) = fast_walker_disagreement(json) {
        panic!("{difference}");
    }
});

//! Arbitrary text through the condition parser: errors are fine, panics and unbounded
//! recursion are not.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(condition) = vigil_sigma::condition::parse_condition(text) {
            // A parsed condition is printable (exercises the whole tree).
            let _ = format!("{condition:?}");
        }
    }
});

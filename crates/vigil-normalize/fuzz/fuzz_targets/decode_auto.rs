//! Arbitrary text through per-record sniffing and whichever decoder it picks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_normalize::AutoDecoder;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut decoder = AutoDecoder::new(None);
    let mut out = Vec::new();
    for line in text.lines() {
        let _ = decoder.decode(line, &mut out);
    }
    decoder.flush(&mut out);
    for event in &out {
        let sigma: serde_json::Value = serde_json::from_str(&event.sigma_json()).expect("sigma view is JSON");
        assert!(sigma.is_object());
    }
});

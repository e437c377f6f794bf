//! Shared body of the decoder fuzz targets: feed the input line by line (and, for JSON
//! sources, also as one whole document) and check what consumers rely on.

use vigil_normalize::{Decoder, Normalized};

pub fn run(decoder: &mut dyn Decoder, data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut out: Vec<Normalized> = Vec::new();
    for line in text.lines() {
        let _ = decoder.decode(line, &mut out);
    }
    let _ = decoder.decode(text, &mut out);
    decoder.flush(&mut out);
    for event in &out {
        assert_eq!(event.source, decoder.kind());
        // The Sigma view and the OCSF form must always be valid JSON objects.
        let sigma: serde_json::Value = serde_json::from_str(&event.sigma_json()).expect("sigma view is JSON");
        assert!(sigma.is_object());
        let ocsf = event.to_ocsf_json();
        assert!(ocsf.get("class_uid").is_some_and(|v| v.is_u64()));
    }
}

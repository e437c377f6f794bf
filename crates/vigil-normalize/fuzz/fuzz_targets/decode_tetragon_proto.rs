#![no_main]

//! Tetragon's protobuf stream: arbitrary bytes as length-delimited
//! `GetEventsResponse` messages must never panic, and every event decoded must have
//! valid JSON views and a raw record the JSON decoder accepts.

use libfuzzer_sys::fuzz_target;
use vigil_normalize::tetragon::decode_protobuf_stream;
use vigil_normalize::{decoder_for, SourceKind};

fuzz_target!(|data: &[u8]| {
    let mut out = Vec::new();
    let result = decode_protobuf_stream(data, &mut out);
    if let Ok(n) = result {
        assert_eq!(n, out.len());
    }
    let mut json = decoder_for(SourceKind::Tetragon);
    for event in &out {
        assert_eq!(event.source, SourceKind::Tetragon);
        let sigma: serde_json::Value = serde_json::from_str(&event.sigma_json()).expect("sigma view is JSON");
        assert!(sigma.is_object());
        assert!(event.to_ocsf_json().get("class_uid").is_some_and(|v| v.is_u64()));
        // The raw record is the event's JSON export form: the JSON path must take it.
        let mut again = Vec::new();
        json.decode(event.raw.as_str(), &mut again).expect("raw JSON of a protobuf event decodes");
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].ocsf, event.ocsf);
        assert_eq!(again[0].sigma, event.sigma);
    }
});

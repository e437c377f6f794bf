#![no_main]

//! Differential: the Tetragon decoder's hand-written JSON reader against serde. For any
//! record the fast reader takes, serde must take it too and read the same model (the
//! members the fast reader only checks aside), and both models must normalize to the
//! same event. Each line is tried, and the whole input as one record.

use libfuzzer_sys::fuzz_target;
use vigil_normalize::tetragon::fast_reader_disagreement;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for record in text.lines().chain(std::iter::once(text)) {
        // The decoder hands the fast reader the record trimmed, as here.
        let record = record.trim_matches(|c: char| c.is_ascii_whitespace() || c == '\u{feff}');
        if let Some(difference) = fast_reader_disagreement(record) {
            panic!("{difference}\nrecord: {record}");
        }
    }
});

#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_normalize::{decoder_for, SourceKind};

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    common::run(decoder_for(SourceKind::KubescapeAlert).as_mut(), data);
});

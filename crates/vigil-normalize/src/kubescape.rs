//! STUB — to be written. See the crate docs and `ocsf` for the shared conventions.

use crate::{DeadLetterReason, DecodeError, Decoder, Normalized, SourceKind};

pub(crate) fn looks_like_alert(_record: &str) -> bool {
    false
}

pub(crate) fn looks_like_scan(_record: &str) -> bool {
    false
}

#[derive(Default)]
pub(crate) struct KubescapeAlertDecoder;

impl Decoder for KubescapeAlertDecoder {
    fn kind(&self) -> SourceKind {
        SourceKind::KubescapeAlert
    }

    fn decode(&mut self, _record: &str, _out: &mut Vec<Normalized>) -> Result<(), DecodeError> {
        Err(DecodeError::new(DeadLetterReason::UnknownFormat, "decoder not written yet"))
    }
}

#[derive(Default)]
pub(crate) struct KubescapeScanDecoder;

impl Decoder for KubescapeScanDecoder {
    fn kind(&self) -> SourceKind {
        SourceKind::KubescapeScan
    }

    fn decode(&mut self, _record: &str, _out: &mut Vec<Normalized>) -> Result<(), DecodeError> {
        Err(DecodeError::new(DeadLetterReason::UnknownFormat, "decoder not written yet"))
    }
}

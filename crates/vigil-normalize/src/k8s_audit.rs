//! STUB — to be written. See the crate docs and `ocsf` for the shared conventions.

use crate::{DeadLetterReason, DecodeError, Decoder, Normalized, SourceKind};

/// Whether `record` (trimmed, starting with `{` for JSON sources) is from this source.
pub(crate) fn looks_like(_record: &str) -> bool {
    false
}

#[derive(Default)]
pub(crate) struct K8sAuditDecoder;

impl Decoder for K8sAuditDecoder {
    fn kind(&self) -> SourceKind {
        SourceKind::K8sAudit
    }

    fn decode(&mut self, _record: &str, _out: &mut Vec<Normalized>) -> Result<(), DecodeError> {
        Err(DecodeError::new(DeadLetterReason::UnknownFormat, "decoder not written yet"))
    }
}

use std::fmt;

/// Why a record became a dead letter. Stable snake_case names (`as_str`) are what
/// dead-letter outputs and metrics carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeadLetterReason {
    /// Not valid JSON although the source is a JSON source.
    InvalidJson,
    /// Valid JSON (or text) of no source Vigil knows.
    UnknownFormat,
    /// The source is known but a required field is absent.
    MissingField,
    /// A field has a type or value the source never emits (e.g. a pid that is text).
    InvalidField,
    /// A text line that does not follow the source's grammar (syslog header, auditd
    /// `type=… msg=audit(…)` prefix…).
    Malformed,
    /// The record exceeds a size bound.
    TooLarge,
    /// A binary record (protobuf) that does not decode.
    InvalidProtobuf,
}

impl DeadLetterReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DeadLetterReason::InvalidJson => "invalid_json",
            DeadLetterReason::UnknownFormat => "unknown_format",
            DeadLetterReason::MissingField => "missing_field",
            DeadLetterReason::InvalidField => "invalid_field",
            DeadLetterReason::Malformed => "malformed",
            DeadLetterReason::TooLarge => "too_large",
            DeadLetterReason::InvalidProtobuf => "invalid_protobuf",
        }
    }
}

impl fmt::Display for DeadLetterReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A record that could not be decoded: the reason class and a message a person can act
/// on (which field, what was expected).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}: {message}")]
pub struct DecodeError {
    pub reason: DeadLetterReason,
    pub message: String,
}

impl DecodeError {
    pub fn new(reason: DeadLetterReason, message: impl Into<String>) -> Self {
        DecodeError { reason, message: message.into() }
    }

    pub fn invalid_json(err: &serde_json::Error) -> Self {
        DecodeError::new(DeadLetterReason::InvalidJson, err.to_string())
    }

    pub fn missing(field: &str) -> Self {
        DecodeError::new(DeadLetterReason::MissingField, format!("required field `{field}` is absent"))
    }
}

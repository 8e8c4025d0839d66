//! The one error type of the core. The Python bindings map each variant to one
//! `fraudcore.FraudcoreError` subclass in a single place (`python/errors.rs`).

use std::path::PathBuf;

/// Everything that can go wrong outside the hot path (loading, configuring, persisting).
///
/// Scoring itself never fails: bad call fields become reasons, not errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A caller-supplied value is of the right type but unusable (`field` names it).
    #[error("{field}: {message}")]
    InvalidValue {
        /// The field, argument or setting that was wrong.
        field: String,
        /// What was wrong with it.
        message: String,
    },
    /// A text input (overlay file, metadata) failed to parse at a known place.
    #[error("{source_name}:{line}:{column}: {message}")]
    Parse {
        /// File name, or a description such as `<overlay>`.
        source_name: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What was wrong.
        message: String,
    },
    /// A persisted file is truncated, corrupted, or of another format version.
    #[error("{path}: corrupt or incompatible file at offset {offset}: {message}")]
    Corrupt {
        /// The file, or `<bytes>`.
        path: String,
        /// Byte offset where the problem was detected.
        offset: u64,
        /// What was wrong.
        message: String,
    },
    /// An operating-system error while reading or writing a file.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// Shorthand for [`Error::InvalidValue`].
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::InvalidValue {
            field: field.into(),
            message: message.into(),
        }
    }

    /// Shorthand for [`Error::Corrupt`].
    pub fn corrupt(path: impl Into<String>, offset: u64, message: impl Into<String>) -> Self {
        Error::Corrupt {
            path: path.into(),
            offset,
            message: message.into(),
        }
    }
}

/// Result alias used across the core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

//! The crate's error type: every variant names the file (and line) it is about.

use std::path::PathBuf;

/// Errors of dataset reading/writing and anomaly synthesis.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// Filesystem error on `path`.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Image decoding/encoding error on `path`.
    #[error("{path}: cannot read/write image: {source}")]
    Image {
        /// The image file.
        path: PathBuf,
        /// The underlying error.
        source: image::ImageError,
    },
    /// An anomalous image has no ground-truth mask.
    #[error("{image}: anomalous image has no mask (looked for {expected})")]
    MissingMask {
        /// The anomalous image.
        image: PathBuf,
        /// Where the mask was expected (or a description of the candidates).
        expected: String,
    },
    /// A row of an index file (jsonl or CSV) cannot be used.
    #[error("{path}:{line}: {message}")]
    Index {
        /// The index file.
        path: PathBuf,
        /// 1-based line (jsonl) or row (CSV, the header is row 1) number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The directory does not have the expected layout.
    #[error("{path}: {message}")]
    Layout {
        /// The dataset root (or the offending directory).
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// JSON serialisation failure.
    #[error("{path}: {source}")]
    Json {
        /// The JSON file.
        path: PathBuf,
        /// The underlying error.
        source: serde_json::Error,
    },
    /// Invalid parameters (synthesis, dataset spec, ...).
    #[error("invalid parameters: {0}")]
    Invalid(String),
}

/// Result alias for this crate.
pub type Result<T, E = DataError> = std::result::Result<T, E>;

pub(crate) fn io_err(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> DataError {
    let path = path.into();
    move |source| DataError::Io { path, source }
}

pub(crate) fn img_err(path: impl Into<PathBuf>) -> impl FnOnce(image::ImageError) -> DataError {
    let path = path.into();
    move |source| DataError::Image { path, source }
}

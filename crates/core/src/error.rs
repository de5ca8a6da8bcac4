//! The crate's error: each variant says what was wrong with which input.

use crate::clip::tokenizer::TokenizeError;
use crate::config::ConfigError;
use crate::preprocess::ImageError;
use crate::weights::WeightError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Weights(#[from] WeightError),
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error(transparent)]
    Tokenize(#[from] TokenizeError),
    #[error("category {0:?} has no precomputed text embedding and this model carries no text tower to compute one")]
    UnknownCategory(String),
    #[error("category {0:?} has no precomputed text embedding, and computing one needs the CLIP vocabulary, which this bundle does not carry (export it again with `acd export --with-text-tower`)")]
    NoVocabulary(String),
    #[error("this model has no text tower (it was loaded without one)")]
    NoTextTower,
    #[error("the compute backend failed: {0}")]
    Backend(String),
    #[error(transparent)]
    Bundle(#[from] crate::weights::bundle::BundleError),
    #[error("fixture: {0}")]
    Fixture(String),
    #[error(transparent)]
    Reference(#[from] crate::reference::memory::ReferenceError),
    #[error("input tensor has shape {found:?}, expected {expected:?}")]
    InputShape {
        found: Vec<usize>,
        expected: Vec<usize>,
    },
}

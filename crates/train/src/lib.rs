//! Training ACD-CLIP (docs/model.md §5) on any Burn autodiff backend: the official losses,
//! optimiser and schedule, per-step text embeddings, checkpoints in the official key layout.

pub mod batch;
pub mod checkpoint;
pub mod evaluation;
pub mod fit;
pub mod losses;
pub mod recipe;
pub mod sources;
pub mod trainer;

pub use batch::{Batch, TrainSample};
pub use recipe::Recipe;
pub use trainer::{StepLosses, Trainer};

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("model: {0}")]
    Model(String),
    #[error("data: {0}")]
    Data(String),
    #[error("the loss is not finite ({0}): lower the learning rates")]
    Diverged(f64),
    #[error("{0}")]
    Io(String),
}

//! Weight import: checkpoint bytes → named f32 tensors (`store`), one name-remap table to
//! open_clip names (`remap`), and construction of the model from them with shape checks (`load`).

pub mod bundle;
pub mod checkpoint;
pub mod load;
#[cfg(feature = "torch")]
pub mod pickle;
pub mod quantize;
pub mod raw;
pub mod remap;
pub mod save;
pub mod store;

pub use store::{TensorStore, WeightError};

//! Weight import: checkpoint bytes → named f32 tensors (`store`), one name-remap table to
//! open_clip names (`remap`), and construction of the model from them with shape checks (`load`).

pub mod bundle;
pub mod bundle_files;
pub mod checkpoint;
pub mod load;
pub mod quantize;
pub mod raw;
pub mod remap;
pub mod save;
pub mod store;
#[cfg(feature = "torch")]
pub mod torch;

pub use store::{TensorStore, WeightError};

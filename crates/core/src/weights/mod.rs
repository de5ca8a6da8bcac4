//! Weight import: checkpoint bytes → named f32 tensors (`store`), the name tables to and from
//! open_clip names (`remap`), the configuration from checkpoint shapes (`infer`), and the model
//! filled from them with shape checks (`load`) or written back (`save`).

pub mod bundle;
pub mod bundle_files;
pub mod checkpoint;
pub mod infer;
pub mod load;
pub mod quantize;
pub mod raw;
pub mod remap;
pub mod save;
pub mod store;
#[cfg(feature = "torch")]
pub mod torch;

pub use store::{TensorStore, WeightError};

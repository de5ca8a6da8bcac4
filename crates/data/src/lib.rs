//! Datasets, procedural textures and synthetic anomalies (no Burn: plain images and masks).
//!
//! * [`dataset`]: MVTec AD, VisA, index-file and plain-folder readers; mask loading.
//! * [`index`]: jsonl / CSV index files with a column mapping and image-level labels.
//! * [`textures`]: procedural normal textures ([`TextureKind`]).
//! * [`synthetic`]: DRAEM / cut-paste / scratch / spot anomalies with honest masks.
//! * [`texture_dataset`]: whole synthetic datasets on disk or sample by sample.
//! * [`augment`]: the official training augmentations.
//! * [`rng`], [`perlin`], [`detmath`]: seeded, platform-independent building blocks.
//!
//! Everything random takes an explicit `u64` seed and is bit-reproducible across platforms.

pub mod augment;
pub mod dataset;
pub mod detmath;
pub mod error;
pub mod index;
pub mod perlin;
pub mod rng;
pub mod synthetic;
#[cfg(test)]
mod testutil;
pub mod texture_dataset;
pub mod textures;

pub use augment::{color_augment, geometric_augment, ColorParams, GeometricParams};
pub use dataset::{load_image, load_mask, Dataset, Layout, Sample};
pub use error::{DataError, Result};
pub use index::{IndexColumns, IndexSpec};
pub use rng::Rng;
pub use synthetic::{AnomalyKind, DraemSource, Synthesis, Synthesizer};
pub use texture_dataset::{
    product_sample, product_strip, product_window, texture_sample, texture_sample_spec,
    write_texture_dataset, Summary, TextureDatasetSpec, TextureSample,
};
pub use textures::{generate, generate_rect, TextureKind};

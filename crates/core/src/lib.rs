//! ACD-CLIP (arXiv 2508.07819) in Burn: zero-shot anomaly detection with a frozen CLIP, Conv-LoRA
//! adapters and the Dynamic Fusion Gateway. Generic over `B: Backend`; no I/O, no threads, no
//! backend choice: it takes bytes and tensors and returns results, natively and in wasm.

pub mod adapters;
pub mod anomaly_map;
pub mod calibration;
pub mod clip;
pub mod config;
pub mod cost;
pub mod detector;
pub mod error;
pub mod fusion_gateway;
pub mod head;
pub mod model;
pub mod nn;
pub mod precision;
pub mod preprocess;
pub mod prompts;
pub mod reference;
pub mod resample;
pub mod trace;
pub mod training_free;
pub mod weights;

pub use config::{AcdClipConfig, Activation, AdapterConfig, ClipConfig, Domain};
pub use detector::{Detection, Detector};
pub use error::Error;
pub use head::Head;
pub use model::{AcdClip, PredictOptions};

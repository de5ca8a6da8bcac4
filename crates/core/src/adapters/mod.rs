//! The trainable parts of ACD-CLIP: Conv-LoRA image adapters, text LoRA, the norm-matching
//! blend, and the seg/det projection heads.

pub mod blend;
pub mod conv_lora;
pub mod heads;
pub mod text_lora;

//! The CLIP backbone: pre-LN attention blocks, the two towers, the BPE tokenizer and the
//! positional-embedding resize.

pub mod block;
pub mod pos_embed;
pub mod text;
pub mod tokenizer;
pub mod vision;

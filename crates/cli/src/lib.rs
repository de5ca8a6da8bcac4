//! The `acd` command's pieces, as a library so the parity harness and tests reuse them.

pub mod backend;
pub mod bench;
pub mod calibrate;
pub mod check_fixture;
pub mod cpu_info;
pub mod data_args;
pub mod detect;
pub mod eval;
pub mod export;
pub mod heap;
pub mod model_source;
pub mod output;
pub mod shots;
pub mod textures;
pub mod threads;
pub mod train;

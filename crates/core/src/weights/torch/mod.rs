//! Reads PyTorch checkpoints from their bytes, without PyTorch or Python.
//!
//! Supported containers:
//! - `torch.save` zip archives (the default since PyTorch 1.6): `<archive>/data.pkl` plus one
//!   `<archive>/data/<key>` entry per storage, and an optional `<archive>/byteorder`. The archive
//!   name is whatever the first path component is. This covers open_clip / OpenAI / transformers
//!   state dicts (`.pt`, `.pth`, `.bin`), nested training checkpoints, and whole pickled
//!   `nn.Module`s (flattened like `state_dict()`).
//! - TorchScript archives written by `torch.jit.save`: the same layout, where `data.pkl` builds
//!   `__torch__.…` module objects whose attributes are flattened to the usual state-dict names.
//!   `constants.pkl`, `code/`, `traced_inputs.pkl` etc. are ignored.
//! - Legacy (pre-1.6) `torch.save` files: five pickles in a row (magic number, protocol version,
//!   system info, the object, the storage keys) followed by the raw storages.
//!
//! The pickle is run by a small virtual machine that never executes anything: globals are just
//! names, and only the handful torch needs (`OrderedDict`, tensor rebuilders, ...) have a meaning.
//! Every size, offset and stride is checked against the bytes actually present before anything is
//! allocated, the VM's stack, memo and object count are bounded, and no input can make it panic.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::{Cursor, Read};
use std::rc::Rc;

use half::{bf16, f16};
use zip::result::ZipError;
use zip::{CompressionMethod, ZipArchive};

use super::raw::RawTensor;

mod archive;
mod legacy;
mod tensor;
#[cfg(test)]
mod tests;
mod value;
mod vm;
mod walk;

use archive::*;
use legacy::*;
use tensor::*;
use value::*;
use vm::*;
use walk::*;

/// Values on the pickle stack (above all marks) at any one time.
const MAX_STACK: usize = 1 << 20;
/// Entries in a pickle's memo.
const MAX_MEMO: usize = 1 << 22;
/// Nested, still open MARKs.
const MAX_MARKS: usize = 1 << 12;
/// Mutable objects (lists, dicts, sets, instances) created across the checkpoint's pickles.
const MAX_OBJECTS: usize = 1 << 22;
/// Nesting of tuples inside tuples while unpickling.
const MAX_TUPLE_DEPTH: u32 = 256;
/// Nesting of containers while flattening the object tree into names.
const MAX_DEPTH: usize = 128;
/// Containers and values visited while flattening (shared sub-trees are walked once per path).
const MAX_VISITS: usize = 1 << 22;
/// Length of a dotted tensor name.
const MAX_NAME_LEN: usize = 4096;
/// Dict keys longer than this are not de-duplicated (hashing them repeatedly could be slow).
const MAX_INDEXED_KEY_LEN: usize = 256;
/// Dimensions of one tensor.
const MAX_DIMS: usize = 64;
/// Size of a pickle (`data.pkl`) after decompression.
const MAX_PICKLE_LEN: usize = 1 << 30;
/// Output elements allowed at least, whatever the input size (stride-0 views can legitimately
/// expand a storage; beyond `max(2 * input bytes, this)` a checkpoint is treated as malicious).
const MIN_ELEMENT_BUDGET: usize = 1 << 26;
/// Bytes that compressed zip entries may inflate to at least (then 16x the input size).
const MIN_INFLATE_BUDGET: usize = 1 << 26;

/// `0x1950a86a20f9469cfc6c`, the legacy torch.save magic number, as LONG1 stores it.
const LEGACY_MAGIC: [u8; 10] = [0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];
const LEGACY_PROTOCOL_VERSION: i64 = 1001;

/// Why a checkpoint could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PickleError {
    #[error(
        "not a PyTorch checkpoint: expected a zip archive (torch.save since PyTorch 1.6, or \
         torch.jit.save) or a legacy torch.save file, but the file starts with {head}"
    )]
    NotAZip { head: String },
    #[error("damaged or truncated zip archive: {0}")]
    Zip(String),
    #[error(
        "the zip archive has no `<archive>/data.pkl` entry, so it is not a torch.save or \
         torch.jit.save checkpoint (entries: {entries})"
    )]
    MissingDataPkl { entries: String },
    #[error("zip entry `{entry}`: {reason}")]
    ZipEntry { entry: String, reason: String },
    #[error(
        "legacy (pre-1.6) torch.save file could not be read: {reason}; re-save it with a recent \
         PyTorch: `torch.save(torch.load(f), f2)`"
    )]
    LegacyFormat { reason: String },
    #[error("pickle `{entry}` is truncated: the instruction at byte {at} runs past its end")]
    Truncated { entry: String, at: usize },
    #[error("pickle `{entry}`: unsupported opcode 0x{opcode:02x} at byte {at}")]
    UnsupportedOpcode {
        entry: String,
        opcode: u8,
        at: usize,
    },
    #[error("pickle `{entry}` is malformed at byte {at}: {reason}")]
    Malformed {
        entry: String,
        at: usize,
        reason: String,
    },
    #[error("pickle `{entry}`: {what} exceeds the limit of {limit} at byte {at}")]
    LimitExceeded {
        entry: String,
        at: usize,
        what: &'static str,
        limit: usize,
    },
    #[error("storage `{key}`: {reason}")]
    BadStorage { key: String, reason: String },
    #[error("tensor `{name}`: {reason}")]
    BadTensor { name: String, reason: String },
    #[error("checkpoint object tree at `{name}`: {reason}")]
    BadStructure { name: String, reason: String },
}

type Result<T> = std::result::Result<T, PickleError>;

/// Reads every floating-point tensor of a PyTorch checkpoint (torch.save zip or TorchScript archive),
/// flattened to dotted names, in file order.
///
/// Float32, float16, bfloat16 and float64 tensors are converted to f32; integer, bool, complex and
/// quantized tensors, and anything that is not a tensor (epochs, hyper-parameters, ...), are skipped.
/// Dict keys and object attributes become name components (`image_adapter.lora_adapters.0.lora_A`);
/// int keys and list positions become their decimal string. Legacy (pre-1.6) `torch.save` files
/// are read as well.
pub fn read_torch_checkpoint(bytes: &[u8]) -> Result<Vec<(String, RawTensor)>> {
    if bytes.starts_with(b"PK") {
        read_zip_checkpoint(bytes)
    } else if bytes.first() == Some(&0x80) {
        read_legacy_checkpoint(bytes)
    } else {
        Err(PickleError::NotAZip {
            head: describe_head(bytes),
        })
    }
}

fn describe_head(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "nothing (the file is empty)".to_string();
    }
    let head: Vec<String> = bytes.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("bytes {}", head.join(" "))
}

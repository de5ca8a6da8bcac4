//! Named f32 tensors read from checkpoint bytes (safetensors or PyTorch pickles), with the names
//! translated by the remap table. Every lookup checks the shape and names the key on failure.

use std::collections::BTreeMap;

use safetensors::tensor::{Dtype, SafeTensors};

use super::raw::RawTensor;
use super::remap::{canonical_name, is_adapter};
#[cfg(feature = "torch")]
use super::torch::{read_torch_checkpoint, PickleError};

#[derive(Debug, thiserror::Error)]
pub enum WeightError {
    #[error("missing weight `{name}` (expected shape {expected:?}){hint}")]
    Missing {
        name: String,
        expected: Vec<usize>,
        hint: String,
    },
    #[error("weight `{name}` has shape {found:?}, expected {expected:?}")]
    Shape {
        name: String,
        found: Vec<usize>,
        expected: Vec<usize>,
    },
    #[error("not a safetensors file: {0}")]
    Safetensors(String),
    #[error("safetensors tensor `{name}` has dtype {dtype}, which is not a float type")]
    Dtype { name: String, dtype: String },
    #[cfg(feature = "torch")]
    #[error("PyTorch checkpoint: {0}")]
    Pickle(#[from] PickleError),
    #[error("this is a PyTorch checkpoint, and this build reads safetensors only (acd-core's `torch` feature is off; convert it with `acd` natively)")]
    TorchNotBuilt,
    #[error("unrecognised weight file: neither safetensors nor a PyTorch zip archive (first bytes {0:02x?})")]
    UnknownFormat(Vec<u8>),
    #[error("{0}")]
    Other(String),
}

#[derive(Clone, Debug, Default)]
pub struct TensorStore {
    tensors: BTreeMap<String, RawTensor>,
}

fn f16_bits(b: &[u8]) -> f32 {
    half::f16::from_le_bytes([b[0], b[1]]).to_f32()
}
fn bf16_bits(b: &[u8]) -> f32 {
    half::bf16::from_le_bytes([b[0], b[1]]).to_f32()
}

/// Decodes a little-endian float buffer to f32; `None` for non-float dtypes.
pub(crate) fn decode_floats(dtype: Dtype, bytes: &[u8]) -> Option<Vec<f32>> {
    Some(match dtype {
        Dtype::F32 => bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
        Dtype::F16 => bytes.chunks_exact(2).map(f16_bits).collect(),
        Dtype::BF16 => bytes.chunks_exact(2).map(bf16_bits).collect(),
        Dtype::F64 => bytes
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32)
            .collect(),
        _ => return None,
    })
}

impl TensorStore {
    /// Reads a safetensors file (float tensors; integer buffers such as HF `position_ids` are skipped).
    pub fn from_safetensors(bytes: &[u8]) -> Result<Self, WeightError> {
        let st =
            SafeTensors::deserialize(bytes).map_err(|e| WeightError::Safetensors(e.to_string()))?;
        let mut store = Self::default();
        for (name, view) in st.tensors() {
            let Some(data) = decode_floats(view.dtype(), view.data()) else {
                continue;
            };
            store.insert_checkpoint_tensor(&name, RawTensor::new(view.shape().to_vec(), data));
        }
        Ok(store)
    }

    /// Reads a PyTorch `.pt/.pth/.bin` (zip) checkpoint, including TorchScript archives.
    #[cfg(feature = "torch")]
    pub fn from_torch(bytes: &[u8]) -> Result<Self, WeightError> {
        let mut store = Self::default();
        for (name, t) in read_torch_checkpoint(bytes)? {
            store.insert_checkpoint_tensor(&name, t);
        }
        Ok(store)
    }

    #[cfg(not(feature = "torch"))]
    pub fn from_torch(_bytes: &[u8]) -> Result<Self, WeightError> {
        Err(WeightError::TorchNotBuilt)
    }

    /// Detects the format from the first bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, WeightError> {
        if bytes.starts_with(b"PK\x03\x04") {
            return Self::from_torch(bytes);
        }
        if bytes.len() >= 9 {
            let header = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"));
            if bytes[8] == b'{' && header <= bytes.len() as u64 {
                return Self::from_safetensors(bytes);
            }
        }
        if bytes.len() >= 2 && bytes[0] == 0x80 {
            // A bare pickle: the pre-1.6 torch.save format.
            return Self::from_torch(bytes);
        }
        Err(WeightError::UnknownFormat(
            bytes.iter().take(8).copied().collect(),
        ))
    }

    /// Inserts a tensor under its canonical name (remap table applied), packing HF q/k/v.
    fn insert_checkpoint_tensor(&mut self, name: &str, t: RawTensor) {
        let (canonical, transposed) = canonical_name(name);
        let t = match transposed.then(|| t.transposed()).flatten() {
            Some(tt) => tt,
            None => t,
        };
        self.tensors.insert(canonical, t);
    }

    /// Packs HF-style separate q/k/v projections into open_clip's `in_proj_weight` / `in_proj_bias`.
    fn pack_qkv(&mut self) {
        let q_keys: Vec<String> = self
            .tensors
            .keys()
            .filter(|k| k.contains(".attn.q_proj."))
            .cloned()
            .collect();
        for q in q_keys {
            let k = q.replace(".attn.q_proj.", ".attn.k_proj.");
            let v = q.replace(".attn.q_proj.", ".attn.v_proj.");
            let (Some(tq), Some(tk), Some(tv)) = (
                self.tensors.get(&q),
                self.tensors.get(&k),
                self.tensors.get(&v),
            ) else {
                continue;
            };
            if tq.shape != tk.shape || tq.shape != tv.shape {
                continue;
            }
            let mut shape = tq.shape.clone();
            shape[0] *= 3;
            let data = [tq.data.as_slice(), &tk.data, &tv.data].concat();
            let packed = q.replace(".attn.q_proj.", ".attn.in_proj_");
            self.tensors.insert(packed, RawTensor::new(shape, data));
            for key in [q, k, v] {
                self.tensors.remove(&key);
            }
        }
    }

    /// Finishes import (call after all inserts): packs split attention projections.
    pub fn finish(mut self) -> Self {
        self.pack_qkv();
        self
    }

    /// Adds every tensor of `other` (later files override earlier ones, e.g. adapters over CLIP).
    pub fn extend(&mut self, other: TensorStore) {
        self.tensors.extend(other.tensors);
    }

    pub fn insert(&mut self, name: impl Into<String>, t: RawTensor) {
        self.tensors.insert(name.into(), t);
    }

    pub fn remove(&mut self, name: &str) -> Option<RawTensor> {
        self.tensors.remove(name)
    }

    /// All tensors by name, in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &RawTensor)> {
        self.tensors.iter()
    }

    pub fn contains(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }
    pub fn shape(&self, name: &str) -> Option<&[usize]> {
        self.tensors.get(name).map(|t| t.shape.as_slice())
    }
    pub fn get(&self, name: &str) -> Option<&RawTensor> {
        self.tensors.get(name)
    }
    pub fn names(&self) -> impl Iterator<Item = &String> {
        self.tensors.keys()
    }
    pub fn len(&self) -> usize {
        self.tensors.len()
    }
    pub fn is_empty(&self) -> bool {
        self.tensors.is_empty()
    }

    /// The tensor `name`, which must have exactly `expected` elements laid out as `expected`
    /// (size-1 dimensions may differ, e.g. `i_w [1, 1, D]` for `[D]`).
    pub fn take(&mut self, name: &str, expected: &[usize]) -> Result<RawTensor, WeightError> {
        let Some(t) = self.tensors.remove(name) else {
            let hint = self.hint_for(name);
            return Err(WeightError::Missing {
                name: name.into(),
                expected: expected.to_vec(),
                hint,
            });
        };
        let squeeze = |s: &[usize]| s.iter().copied().filter(|&d| d != 1).collect::<Vec<_>>();
        if t.shape != expected && squeeze(&t.shape) != squeeze(expected) {
            return Err(WeightError::Shape {
                name: name.into(),
                found: t.shape,
                expected: expected.to_vec(),
            });
        }
        Ok(RawTensor::new(expected.to_vec(), t.data))
    }

    fn hint_for(&self, name: &str) -> String {
        if let Some(prefix) = name
            .strip_suffix("in_proj_weight")
            .or_else(|| name.strip_suffix("in_proj_bias"))
        {
            let split: Vec<&str> = ["q_proj", "k_proj", "v_proj"]
                .into_iter()
                .filter(|p| {
                    self.tensors
                        .keys()
                        .any(|k| k.starts_with(&format!("{prefix}{p}.")))
                })
                .collect();
            if !split.is_empty() {
                return format!(
                    " — the checkpoint has only {} of this layer's separate q/k/v projections",
                    split.join(", ")
                );
            }
        }
        if is_adapter(name) {
            if !self.tensors.keys().any(|k| is_adapter(k)) {
                return " — no adapter weights were loaded (pass the adapter checkpoint, e.g. adapter_<epoch>.pth)".into();
            }
        } else if !self.tensors.keys().any(|k| k.starts_with("visual.")) {
            return " — no CLIP vision weights were loaded (pass the CLIP checkpoint)".into();
        }
        String::new()
    }
}

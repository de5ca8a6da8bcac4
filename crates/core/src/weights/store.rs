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

/// Named f32 tensors under open_clip / official names (a map; reading, packing and the checked
/// `take` are its own).
#[derive(Clone, Debug, Default)]
pub struct TensorStore(BTreeMap<String, RawTensor>);

impl std::ops::Deref for TensorStore {
    type Target = BTreeMap<String, RawTensor>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for TensorStore {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

/// Decodes a little-endian float buffer to f32; `None` for non-float dtypes.
pub(crate) fn decode_floats(dtype: Dtype, bytes: &[u8]) -> Option<Vec<f32>> {
    let words = |n| bytes.chunks_exact(n);
    Some(match dtype {
        Dtype::F32 => words(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
            .collect(),
        Dtype::F64 => words(8)
            .map(|b| f64::from_le_bytes(b.try_into().unwrap()) as f32)
            .collect(),
        Dtype::F16 => words(2)
            .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect(),
        Dtype::BF16 => words(2)
            .map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect(),
        _ => return None,
    })
}

impl TensorStore {
    /// Reads a safetensors file (float tensors; integer buffers such as HF `position_ids` are skipped).
    pub fn from_safetensors(bytes: &[u8]) -> Result<Self, WeightError> {
        let st =
            SafeTensors::deserialize(bytes).map_err(|e| WeightError::Safetensors(e.to_string()))?;
        let floats = st.tensors().into_iter().filter_map(|(name, view)| {
            let data = decode_floats(view.dtype(), view.data())?;
            Some((name, RawTensor::new(view.shape().to_vec(), data)))
        });
        Ok(Self::from_checkpoint(floats))
    }

    /// Reads a PyTorch `.pt/.pth/.bin` (zip) checkpoint, including TorchScript archives.
    #[cfg(feature = "torch")]
    pub fn from_torch(bytes: &[u8]) -> Result<Self, WeightError> {
        Ok(Self::from_checkpoint(read_torch_checkpoint(bytes)?))
    }

    #[cfg(not(feature = "torch"))]
    pub fn from_torch(_bytes: &[u8]) -> Result<Self, WeightError> {
        Err(WeightError::TorchNotBuilt)
    }

    /// Detects the format from the first bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, WeightError> {
        let safetensors_header = bytes
            .get(..8)
            .map(|h| u64::from_le_bytes(h.try_into().unwrap()));
        if bytes.starts_with(b"PK\x03\x04") {
            Self::from_torch(bytes)
        } else if bytes.get(8) == Some(&b'{') && safetensors_header <= Some(bytes.len() as u64) {
            Self::from_safetensors(bytes)
        } else if bytes.len() >= 2 && bytes[0] == 0x80 {
            Self::from_torch(bytes) // a bare pickle: the pre-1.6 torch.save format
        } else {
            Err(WeightError::UnknownFormat(
                bytes.iter().take(8).copied().collect(),
            ))
        }
    }

    /// Tensors under checkpoint keys, renamed by the remap table (a Hugging Face projection
    /// stored transposed is turned back).
    fn from_checkpoint(tensors: impl IntoIterator<Item = (String, RawTensor)>) -> Self {
        let rename = |(name, t): (String, RawTensor)| {
            let (canonical, transposed) = canonical_name(&name);
            (
                canonical,
                if transposed {
                    t.transposed().unwrap_or(t)
                } else {
                    t
                },
            )
        };
        Self(tensors.into_iter().map(rename).collect())
    }

    /// Finishes import (after every file is in): packs Hugging Face's separate q/k/v projections
    /// into open_clip's `in_proj_weight` / `in_proj_bias`.
    pub fn finish(mut self) -> Self {
        let q_keys: Vec<String> = self
            .keys()
            .filter(|k| k.contains(".attn.q_proj."))
            .cloned()
            .collect();
        for q in q_keys {
            let [k, v] = [".attn.k_proj.", ".attn.v_proj."].map(|p| q.replace(".attn.q_proj.", p));
            let (Some(tq), Some(tk), Some(tv)) = (self.get(&q), self.get(&k), self.get(&v)) else {
                continue;
            };
            if tq.shape != tk.shape || tq.shape != tv.shape {
                continue;
            }
            let shape = [vec![tq.shape[0] * 3], tq.shape[1..].to_vec()].concat();
            let data = [tq.data.as_slice(), &tk.data, &tv.data].concat();
            let packed = q.replace(".attn.q_proj.", ".attn.in_proj_");
            self.insert(packed, RawTensor::new(shape, data));
            for key in [q, k, v] {
                self.remove(&key);
            }
        }
        self
    }

    /// Adds every tensor of `other` (later files override earlier ones, e.g. adapters over CLIP).
    pub fn extend(&mut self, other: TensorStore) {
        self.0.extend(other.0);
    }

    /// The shape of the tensor `name`, if the store holds it.
    pub fn shape(&self, name: &str) -> Option<&[usize]> {
        self.get(name).map(|t| t.shape.as_slice())
    }

    /// The tensor `name`, which must have exactly `expected` elements laid out as `expected`
    /// (size-1 dimensions may differ, e.g. `i_w [1, 1, D]` for `[D]`).
    pub fn take(&mut self, name: &str, expected: &[usize]) -> Result<RawTensor, WeightError> {
        let Some(t) = self.0.remove(name) else {
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

    /// Why `name` may be missing, from what the store holds instead.
    fn hint_for(&self, name: &str) -> String {
        let has = |p: &dyn Fn(&str) -> bool| self.keys().any(|k| p(k));
        let layer = name
            .strip_suffix("in_proj_weight")
            .or(name.strip_suffix("in_proj_bias"));
        if let Some(prefix) = layer {
            let split: Vec<&str> = ["q_proj", "k_proj", "v_proj"]
                .into_iter()
                .filter(|p| has(&|k| k.starts_with(&format!("{prefix}{p}."))))
                .collect();
            if !split.is_empty() {
                let split = split.join(", ");
                return format!(
                    " — the checkpoint has only {split} of this layer's separate q/k/v projections"
                );
            }
        }
        if is_adapter(name) && !has(&is_adapter) {
            " — no adapter weights were loaded (pass the adapter checkpoint, e.g. adapter_<epoch>.pth)".into()
        } else if !is_adapter(name) && !has(&|k| k.starts_with("visual.")) {
            " — no CLIP vision weights were loaded (pass the CLIP checkpoint)".into()
        } else {
            String::new()
        }
    }
}

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
    #[error("this is a PyTorch checkpoint ({0} bytes), and this build reads safetensors only (acd-core's `torch` feature is off; convert it with `acd` natively)")]
    TorchNotBuilt(usize),
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
    let words = |n, word: fn(&[u8]) -> f32| bytes.chunks_exact(n).map(word).collect();
    Some(match dtype {
        Dtype::F32 => words(4, |b| f32::from_le_bytes(b.try_into().unwrap())),
        Dtype::F64 => words(8, |b| f64::from_le_bytes(b.try_into().unwrap()) as f32),
        Dtype::F16 => words(2, |b| half::f16::from_le_bytes([b[0], b[1]]).to_f32()),
        Dtype::BF16 => words(2, |b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32()),
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

    /// Reads a PyTorch `.pt/.pth/.bin` (zip) checkpoint, including TorchScript archives, or a
    /// bare pre-1.6 pickle; in a build without the `torch` feature, says so.
    pub fn from_torch(bytes: &[u8]) -> Result<Self, WeightError> {
        #[cfg(feature = "torch")]
        return Ok(Self::from_checkpoint(read_torch_checkpoint(bytes)?));
        #[cfg(not(feature = "torch"))]
        Err(WeightError::TorchNotBuilt(bytes.len()))
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
        let rename = |(name, t): (String, RawTensor)| match canonical_name(&name) {
            (canonical, true) => (canonical, t.transposed().unwrap_or(t)),
            (canonical, false) => (canonical, t),
        };
        Self(tensors.into_iter().map(rename).collect())
    }

    /// Finishes import (after every file is in): packs Hugging Face's separate q/k/v projections
    /// into open_clip's `in_proj_weight` / `in_proj_bias`.
    pub fn finish(mut self) -> Self {
        let split =
            |q: &String| [".q_proj.", ".k_proj.", ".v_proj."].map(|p| q.replace(".q_proj.", p));
        let layers: Vec<[String; 3]> = self
            .keys()
            .filter(|k| k.contains(".attn.q_proj."))
            .map(split)
            .collect();
        for keys in layers {
            let [Some(q), Some(k), Some(v)] = keys.each_ref().map(|key| self.get(key)) else {
                continue;
            };
            if q.shape == k.shape && q.shape == v.shape {
                let shape = [vec![q.shape[0] * 3], q.shape[1..].to_vec()].concat();
                let packed = RawTensor::new(shape, [q.data.as_slice(), &k.data, &v.data].concat());
                self.insert(keys[0].replace(".q_proj.", ".in_proj_"), packed);
                for key in &keys {
                    self.remove(key);
                }
            }
        }
        self
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
        let held = |p: &&str| layer.is_some_and(|l| has(&|k| k.starts_with(&format!("{l}{p}."))));
        let split: Vec<&str> = ["q_proj", "k_proj", "v_proj"]
            .into_iter()
            .filter(held)
            .collect();
        if !split.is_empty() {
            let split = split.join(", ");
            format!(" — the checkpoint has only {split} of this layer's separate q/k/v projections")
        } else if is_adapter(name) && !has(&is_adapter) {
            " — no adapter weights were loaded (pass the adapter checkpoint, e.g. adapter_<epoch>.pth)".into()
        } else if !is_adapter(name) && !has(&|k| k.starts_with("visual.")) {
            " — no CLIP vision weights were loaded (pass the CLIP checkpoint)".into()
        } else {
            String::new()
        }
    }
}

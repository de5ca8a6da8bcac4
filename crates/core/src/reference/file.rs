//! A memory as bytes: one safetensors file (what bundles store and the page keeps in IndexedDB).
//!
//! ```text
//! __metadata__: format "acd-clip-reference", version "1", images, grid, seed, groups (levels),
//!               features ("patch-embedding" | "group-tokens" | "both")
//! group<i>.features         f32 [patches, dim]   unit rows
//! group<i>.normal_distance  f32 [1]              the normal limit q_i
//! ```
//! Reading checks everything a tampered or truncated file could get wrong (sizes, dtypes, finite
//! values, a positive limit, group count) and names it.

use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use super::memory::{ReferenceError, ReferenceGroup, ReferenceMemory};

pub const REFERENCE_FORMAT: &str = "acd-clip-reference";
pub const REFERENCE_VERSION: &str = "1";
/// More groups than any CLIP has layers: refuse before reading.
const MAX_GROUPS: usize = 64;

fn invalid(reason: impl Into<String>) -> ReferenceError {
    ReferenceError::Invalid(reason.into())
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

impl ReferenceMemory {
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut entries: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
        for (i, g) in self.groups.iter().enumerate() {
            entries.push((
                format!("group{i}.features"),
                vec![g.patches(), g.dim],
                f32_bytes(&g.features),
            ));
            entries.push((
                format!("group{i}.normal_distance"),
                vec![1],
                f32_bytes(&[g.normal_distance]),
            ));
        }
        let views: Vec<(String, TensorView)> = entries
            .iter()
            .map(|(n, s, b)| {
                (
                    n.clone(),
                    TensorView::new(Dtype::F32, s.clone(), b).expect("sizes match by construction"),
                )
            })
            .collect();
        let meta: Vec<(String, String)> = [
            ("format", REFERENCE_FORMAT.to_string()),
            ("version", REFERENCE_VERSION.to_string()),
            ("images", self.images.to_string()),
            ("grid", self.grid.to_string()),
            ("seed", self.seed.to_string()),
            ("groups", self.groups.len().to_string()),
            ("features", self.features.name().to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        // (`collect` into the map type safetensors uses: hashbrown's without its `std` feature.)
        safetensors::tensor::serialize(views, Some(meta.into_iter().collect()))
            .expect("in-memory serialisation")
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ReferenceError> {
        let (_, header) = SafeTensors::read_metadata(bytes).map_err(|e| invalid(format!("{e}")))?;
        let meta = header
            .metadata()
            .clone()
            .ok_or_else(|| invalid("it has no metadata (not a reference memory)"))?;
        let get = |k: &str| {
            meta.get(k)
                .ok_or_else(|| invalid(format!("metadata has no `{k}`")))
        };
        if get("format")? != REFERENCE_FORMAT {
            return Err(invalid(format!(
                "format {:?} is not {REFERENCE_FORMAT:?}",
                get("format")?
            )));
        }
        if get("version")? != REFERENCE_VERSION {
            return Err(invalid(format!(
                "version {:?} is not supported (this build reads {REFERENCE_VERSION})",
                get("version")?
            )));
        }
        let number = |k: &str| -> Result<u64, ReferenceError> {
            get(k)?
                .parse::<u64>()
                .map_err(|_| invalid(format!("metadata `{k}` is not a number")))
        };
        let images = number("images")? as usize;
        let grid = number("grid")? as usize;
        let seed = number("seed")?;
        let n_groups = number("groups")? as usize;
        let features = super::ReferenceFeatures::parse(get("features")?).ok_or_else(|| {
            invalid(format!(
                "metadata `features` {:?} is not known",
                meta.get("features")
            ))
        })?;
        if images == 0 || grid == 0 || n_groups == 0 || n_groups > MAX_GROUPS {
            return Err(invalid(format!(
                "metadata says {images} images, grid {grid}, {n_groups} groups"
            )));
        }
        let st = SafeTensors::deserialize(bytes).map_err(|e| invalid(format!("{e}")))?;
        let read = |name: &str| -> Result<(Vec<usize>, Vec<f32>), ReferenceError> {
            let v = st
                .tensor(name)
                .map_err(|_| invalid(format!("tensor `{name}` is missing")))?;
            if v.dtype() != Dtype::F32 {
                return Err(invalid(format!(
                    "tensor `{name}` is {:?}, not F32",
                    v.dtype()
                )));
            }
            let data: Vec<f32> = v
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            if data.iter().any(|x| !x.is_finite()) {
                return Err(invalid(format!("tensor `{name}` has non-finite values")));
            }
            Ok((v.shape().to_vec(), data))
        };
        let mut groups = Vec::with_capacity(n_groups);
        for i in 0..n_groups {
            let (shape, features) = read(&format!("group{i}.features"))?;
            let [patches, dim] = shape[..] else {
                return Err(invalid(format!("group{i}.features has shape {shape:?}")));
            };
            if patches == 0 || dim == 0 {
                return Err(invalid(format!("group{i}.features is empty")));
            }
            let (shape, q) = read(&format!("group{i}.normal_distance"))?;
            if shape != [1] || !(q[0] > 0.0 && q[0] <= 2.0) {
                return Err(invalid(format!(
                    "group{i}.normal_distance must be one value in (0, 2], found {q:?}"
                )));
            }
            groups.push(ReferenceGroup {
                dim,
                features,
                normal_distance: q[0],
            });
        }
        if st.len() != 2 * n_groups {
            return Err(invalid(format!(
                "it holds {} tensors, {n_groups} groups need {}",
                st.len(),
                2 * n_groups
            )));
        }
        Ok(Self {
            groups,
            images,
            grid,
            seed,
            features,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ReferenceMemory {
        ReferenceMemory {
            groups: vec![
                ReferenceGroup {
                    dim: 2,
                    features: vec![1.0, 0.0, 0.0, 1.0, 0.6, 0.8],
                    normal_distance: 0.25,
                },
                ReferenceGroup {
                    dim: 3,
                    features: vec![0.0, 0.0, 1.0],
                    normal_distance: 0.5,
                },
            ],
            images: 2,
            grid: 4,
            seed: 9,
            features: crate::reference::ReferenceFeatures::Both,
        }
    }

    #[test]
    fn round_trip() {
        let m = sample();
        assert_eq!(ReferenceMemory::from_bytes(&m.to_bytes()).unwrap(), m);
    }

    #[test]
    fn tampered_files_are_refused() {
        let bytes = sample().to_bytes();
        for cut in [0, 8, bytes.len() / 2, bytes.len() - 1] {
            assert!(
                ReferenceMemory::from_bytes(&bytes[..cut]).is_err(),
                "cut {cut}"
            );
        }
        let mut m = sample();
        m.groups[0].normal_distance = 0.0;
        let e = ReferenceMemory::from_bytes(&m.to_bytes()).unwrap_err();
        assert!(e.to_string().contains("normal_distance"), "{e}");
        let mut m = sample();
        m.groups[1].features[0] = f32::NAN;
        let e = ReferenceMemory::from_bytes(&m.to_bytes()).unwrap_err();
        assert!(e.to_string().contains("non-finite"), "{e}");
        // not a reference memory: a safetensors file without our metadata
        let plain = safetensors::tensor::serialize(
            vec![(
                "x".to_string(),
                TensorView::new(Dtype::F32, vec![1], &[0, 0, 0, 0]).unwrap(),
            )],
            None,
        )
        .unwrap();
        assert!(ReferenceMemory::from_bytes(&plain).is_err());
    }
}

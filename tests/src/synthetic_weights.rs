//! Synthetic CLIP weights, generated bit-identically here and in `scripts/make_reference.py`.
//!
//! The open_clip references in `tests/reference/` were computed with every state-dict entry
//! overwritten by [`synthetic_tensor`] (seed [`SEED`]), so the Rust model can be loaded with the
//! same weights without committing ~600 MB of checkpoints. The rule (also documented in the
//! script's docstring and in `tests/reference/README.md`), for the tensor called `name` (the
//! open_clip state-dict key) and flat row-major element index `i`:
//!
//! ```text
//! key   = fnv1a64(utf8(name)) ^ seed
//! base  = mix64(key + GAMMA)                   // first output of SplitMix64 seeded with key
//! z_i   = mix64(base + (i + 1) * GAMMA)        // i-th output of SplitMix64 seeded with base
//! u_i   = ((z_i >> 40) as f32 - 2^23) / 2^23   // exact, uniform in [-1, 1)
//! value = offset + scale * u_i                 // f32 multiply, then f32 add
//! ```
//!
//! with wrapping `u64` arithmetic and `(offset, scale)` chosen by name ([`synthetic_rule`]).
//! This module is pure `std`.

/// Seed used for every reference backbone.
pub const SEED: u64 = 0xACDC_0001;

const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;
const FNV_OFFSET: u64 = 0xCBF2_9CE4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01B3;
/// `f32(ln(1/0.07))`, open_clip's initial `logit_scale`.
pub const LOGIT_SCALE: f32 = f32::from_bits(0x402A_3151);

/// FNV-1a, 64 bit.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(FNV_OFFSET, |h, &b| (h ^ b as u64).wrapping_mul(FNV_PRIME))
}

/// SplitMix64's output function (Stafford's mix13).
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn sqrt3_over(n: usize) -> f32 {
    (3.0f64 / n as f64).sqrt() as f32
}

/// `(offset, scale, rule number)` for a state-dict entry, or `None` when no rule matches.
///
/// First matching row wins (`last` = last dotted component, `prev` = the one before it):
///
/// | rule | match                                                          | offset            | scale             |
/// |------|----------------------------------------------------------------|-------------------|-------------------|
/// | 1    | `name == "logit_scale"`                                        | [`LOGIT_SCALE`]   | 0                 |
/// | 2    | `prev` starts with `ln_` and `last == "weight"`                | 1                 | 0.1               |
/// | 3    | `prev` starts with `ln_` and `last == "bias"`                  | 0                 | 0.05              |
/// | 4    | `last` is `class_embedding`/`positional_embedding`, or name ends with `token_embedding.weight` | 0 | 0.1 |
/// | 5    | `last` is `proj`/`text_projection` (`[in, out]`, used as `x @ W`) | 0              | sqrt(3/shape[0])  |
/// | 6    | `last == "bias"` or ends with `_bias`                          | 0                 | 0.02              |
/// | 7    | (`last == "weight"` or ends with `_weight`) and `ndim >= 2`     | 0                 | sqrt(3/fan_in)    |
///
/// `fan_in` is the product of all dims but the first; `sqrt(3/n)` is evaluated in f64 and
/// rounded to f32.
pub fn synthetic_rule(name: &str, shape: &[usize]) -> Option<(f32, f32, u8)> {
    let mut parts = name.rsplit('.');
    let last = parts.next().unwrap_or("");
    let prev = parts.next().unwrap_or("");
    if name == "logit_scale" {
        return Some((LOGIT_SCALE, 0.0, 1));
    }
    if prev.starts_with("ln_") && last == "weight" {
        return Some((1.0, 0.1, 2));
    }
    if prev.starts_with("ln_") && last == "bias" {
        return Some((0.0, 0.05, 3));
    }
    if last == "class_embedding"
        || last == "positional_embedding"
        || name.ends_with("token_embedding.weight")
    {
        return Some((0.0, 0.1, 4));
    }
    if last == "proj" || last == "text_projection" {
        if shape.len() != 2 {
            return None;
        }
        return Some((0.0, sqrt3_over(shape[0]), 5));
    }
    if last == "bias" || last.ends_with("_bias") {
        return Some((0.0, 0.02, 6));
    }
    if (last == "weight" || last.ends_with("_weight")) && shape.len() >= 2 {
        return Some((0.0, sqrt3_over(shape[1..].iter().product()), 7));
    }
    None
}

/// The value rule shared with scripts/make_reference.py (see its docstring).
///
/// Returns the row-major values of the open_clip state-dict entry `name` of shape `shape`
/// (an empty shape is a scalar: one value). Panics if `name` matches no rule.
pub fn synthetic_tensor(name: &str, shape: &[usize], seed: u64) -> Vec<f32> {
    let (offset, scale, _) = synthetic_rule(name, shape)
        .unwrap_or_else(|| panic!("no synthetic-weight rule for {name} {shape:?}"));
    let n: usize = shape.iter().product();
    let base = mix64((fnv1a64(name.as_bytes()) ^ seed).wrapping_add(GAMMA));
    let mut state = base;
    (0..n)
        .map(|_| {
            state = state.wrapping_add(GAMMA);
            let z = mix64(state);
            let u = ((z >> 40) as f32 - 8_388_608.0) / 8_388_608.0;
            offset + scale * u
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference_dir;

    #[test]
    fn hash_primitives_match_published_vectors() {
        assert_eq!(fnv1a64(b""), 0xCBF2_9CE4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xAF63_DC4C_8601_EC8C);
        // SplitMix64 seeded with 0: first output.
        assert_eq!(mix64(GAMMA), 0xE220_A839_7B1D_CDAF);
        assert_eq!(LOGIT_SCALE, (1.0f64 / 0.07).ln() as f32);
    }

    #[test]
    fn values_are_in_range_and_scalar_works() {
        let t = synthetic_tensor("visual.ln_pre.weight", &[768], SEED);
        assert!(t.iter().all(|v| (0.9..1.1).contains(v)));
        assert_eq!(
            synthetic_tensor("logit_scale", &[], SEED),
            vec![LOGIT_SCALE]
        );
    }

    /// Exact (bitwise) agreement with the values the Python generator recorded, and the same
    /// rule classification for every state-dict entry of both reference backbones.
    #[test]
    fn matches_python_reference() {
        for tag in ["vit_b16_quickgelu", "vit_l14_reduced"] {
            let dir = reference_dir();
            let meta: serde_json::Value = serde_json::from_slice(
                &std::fs::read(dir.join(format!("{tag}.json"))).expect("reference json"),
            )
            .expect("valid json");
            assert_eq!(meta["seed"].as_u64(), Some(SEED), "{tag}: seed");
            let mut shapes = std::collections::HashMap::new();
            for entry in meta["state_dict"].as_array().expect("state_dict list") {
                let name = entry[0].as_str().unwrap().to_string();
                let shape: Vec<usize> = entry[1]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|d| d.as_u64().unwrap() as usize)
                    .collect();
                let (_, _, rule) = synthetic_rule(&name, &shape)
                    .unwrap_or_else(|| panic!("{tag}: no rule for {name}"));
                assert_eq!(
                    Some(rule as u64),
                    meta["state_dict_rule"][&name].as_u64(),
                    "{tag}: rule for {name}"
                );
                shapes.insert(name, shape);
            }

            let bytes = std::fs::read(dir.join(format!("{tag}.safetensors"))).expect("reference");
            let st = safetensors::SafeTensors::deserialize(&bytes).expect("safetensors");
            let mut checked = 0;
            for (key, view) in st.tensors() {
                let (name, tail) = if let Some(n) = key.strip_prefix("synth_check/") {
                    (n, false)
                } else if let Some(n) = key.strip_prefix("synth_check_tail/") {
                    (n, true)
                } else {
                    continue;
                };
                assert_eq!(view.dtype(), safetensors::Dtype::F32);
                let want: Vec<f32> = view
                    .data()
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect();
                let full = synthetic_tensor(name, &shapes[name], SEED);
                let got = if tail {
                    &full[full.len() - want.len()..]
                } else {
                    &full[..want.len()]
                };
                for (j, (g, w)) in got.iter().zip(&want).enumerate() {
                    assert_eq!(g.to_bits(), w.to_bits(), "{tag}: {key}[{j}]: {g} vs {w}");
                }
                checked += 1;
            }
            assert!(checked >= 6, "{tag}: only {checked} synth_check entries");
        }
    }
}

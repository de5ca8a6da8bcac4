//! Weight compression for bundles: int8 per-output-channel (per-row) symmetric with f32 scales
//! for large matrices, f16 or f32 for the rest. Values are dequantized to f32 when loaded.

use serde::{Deserialize, Serialize};

use super::raw::RawTensor;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Precision {
    Int8,
    F16,
    F32,
}

impl std::str::FromStr for Precision {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "int8" | "i8" => Ok(Precision::Int8),
            "f16" | "fp16" | "half" => Ok(Precision::F16),
            "f32" | "fp32" | "float" => Ok(Precision::F32),
            other => Err(format!("unknown precision {other:?} (int8, f16 or f32)")),
        }
    }
}

/// Matrices (≥ 2-D) with at least this many values are stored as int8 under `Precision::Int8`.
pub const INT8_MIN_ELEMENTS: usize = 1024;

/// How one tensor is stored.
#[derive(Clone, Debug, PartialEq)]
pub enum Encoded {
    F32(Vec<f32>),
    F16(Vec<half::f16>),
    /// Row-major int8 values and one scale per row (dimension 0).
    Int8 {
        values: Vec<i8>,
        scales: Vec<f32>,
    },
}

/// `additive`: the tensor is only ever added (a bias), so one int8 scale for the whole vector costs
/// little accuracy; gains (LayerNorm weights, blend weights) stay f16.
pub fn encode(t: &RawTensor, precision: Precision, additive: bool) -> Encoded {
    let large = t.shape.len() >= 2 && t.numel() >= INT8_MIN_ELEMENTS;
    let f16 = || Encoded::F16(t.data.iter().map(|&v| half::f16::from_f32(v)).collect());
    match precision {
        Precision::F32 => Encoded::F32(t.data.clone()),
        Precision::F16 => f16(),
        Precision::Int8 if large => quantize_rows(t),
        Precision::Int8 if additive && t.shape.len() == 1 && t.numel() >= 64 => {
            quantize_rows(&RawTensor::new(vec![1, t.numel()], t.data.clone()))
        }
        Precision::Int8 => f16(),
    }
}

/// Symmetric per-row int8: `scale = max|row| / 127`, `q = round(x / scale)`.
pub fn quantize_rows(t: &RawTensor) -> Encoded {
    let rows = t.shape.first().copied().unwrap_or(1).max(1);
    let cols = t.numel() / rows;
    let mut values = Vec::with_capacity(t.numel());
    let mut scales = Vec::with_capacity(rows);
    for row in t.data.chunks(cols.max(1)) {
        let max = row.iter().fold(0f32, |m, v| m.max(v.abs()));
        let scale = if max > 0.0 { max / 127.0 } else { 1.0 };
        scales.push(scale);
        values.extend(
            row.iter()
                .map(|&v| (v / scale).round().clamp(-127.0, 127.0) as i8),
        );
    }
    Encoded::Int8 { values, scales }
}

/// Back to f32 values.
pub fn decode(e: &Encoded) -> Vec<f32> {
    match e {
        Encoded::F32(v) => v.clone(),
        Encoded::F16(v) => v.iter().map(|x| x.to_f32()).collect(),
        Encoded::Int8 { values, scales } => scale_rows(values, scales, f32::from),
    }
}

/// Int8 values as a bundle stores them (two's-complement bytes, row-major), times their row's
/// scale: read straight from the shard's bytes.
pub fn dequantize_stored_rows(bytes: &[u8], scales: &[f32]) -> Vec<f32> {
    scale_rows(bytes, scales, |b| f32::from(b as i8))
}

/// Row by row (no per-value division to find the row, and no intermediate copy): with the
/// transposition, this was most of a bundle's load time.
fn scale_rows<T: Copy>(values: &[T], scales: &[f32], to_f32: impl Fn(T) -> f32) -> Vec<f32> {
    let cols = values.len() / scales.len().max(1);
    let mut out = Vec::with_capacity(values.len());
    for (row, &scale) in values.chunks_exact(cols.max(1)).zip(scales) {
        out.extend(row.iter().map(|&q| to_f32(q) * scale));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int8_error_is_at_most_half_a_step_per_row() {
        let data: Vec<f32> = (0..64 * 128)
            .map(|i| ((i * 7919) % 1000) as f32 / 100.0 - 5.0 + (i / 128) as f32)
            .collect();
        let t = RawTensor::new(vec![64, 128], data.clone());
        let Encoded::Int8 { scales, .. } = encode(&t, Precision::Int8, false) else {
            panic!("large matrix must be int8")
        };
        let back = decode(&encode(&t, Precision::Int8, false));
        for (i, (a, b)) in data.iter().zip(&back).enumerate() {
            // Half a step, plus f32 rounding of `q * scale` (exact ties such as 123.5 steps occur).
            let bound = scales[i / 128] / 2.0 + a.abs() * 4.0 * f32::EPSILON;
            assert!((a - b).abs() <= bound, "{a} vs {b}");
        }
        // Small tensors are kept as f16.
        assert!(matches!(
            encode(
                &RawTensor::new(vec![8], vec![0.5; 8]),
                Precision::Int8,
                false
            ),
            Encoded::F16(_)
        ));
    }

    /// Stored bytes are two's complement: 0xFF is -1 and 0x81 is -127, each times its row's scale.
    #[test]
    fn stored_bytes_dequantize_as_signed_values_per_row() {
        let bytes = [0x01, 0xFF, 0x7F, 0x81, 0x00, 0x02];
        let got = dequantize_stored_rows(&bytes, &[2.0, 0.5]);
        assert_eq!(got, vec![2.0, -2.0, 254.0, -63.5, 0.0, 1.0]);
    }

    #[test]
    fn zero_rows_survive() {
        let t = RawTensor::new(vec![2, 4096], vec![0.0; 8192]);
        assert!(decode(&quantize_rows(&t)).iter().all(|&v| v == 0.0));
    }
}

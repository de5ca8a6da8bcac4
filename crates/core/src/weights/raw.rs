//! A decoded checkpoint tensor before it becomes a Burn tensor: shape plus f32 values.

use burn::tensor::{backend::Backend, Tensor};

/// One tensor as read from a checkpoint, converted to f32 (from f16, bf16, f64, ...).
#[derive(Clone, Debug, PartialEq)]
pub struct RawTensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

impl RawTensor {
    pub fn new(shape: Vec<usize>, data: Vec<f32>) -> Self {
        debug_assert_eq!(shape.iter().product::<usize>(), data.len());
        Self { shape, data }
    }

    /// A tensor's values read back as f32, or the backend's reason it could not read them (so a
    /// failed read never becomes an empty tensor in a file, a trace or a comparison).
    pub fn read_back<B: Backend, const D: usize>(t: Tensor<B, D>) -> Result<Self, String> {
        let dims = t.dims().to_vec();
        let data = t
            .into_data()
            .convert::<f32>()
            .to_vec::<f32>()
            .map_err(|e| format!("{e:?}"))?;
        Ok(Self::new(dims, data))
    }

    pub fn numel(&self) -> usize {
        self.data.len()
    }

    /// The matrix transposed (`[r, c]` → `[c, r]`); `None` for anything but a matrix. A band of
    /// 16 rows at a time, each output row written contiguously: a row-by-row pass misses the cache
    /// on every write for the large projections (7-8x slower, measured natively and in wasm), and
    /// it was half of a bundle's load time.
    pub fn transposed(&self) -> Option<RawTensor> {
        const BAND: usize = 16;
        let [r, c] = self.shape[..] else { return None };
        let mut data = vec![0f32; r * c];
        for i0 in (0..r).step_by(BAND) {
            let i1 = (i0 + BAND).min(r);
            for j in 0..c {
                let out = &mut data[j * r + i0..j * r + i1];
                for (k, o) in out.iter_mut().enumerate() {
                    *o = self.data[(i0 + k) * c + j];
                }
            }
        }
        Some(RawTensor::new(vec![c, r], data))
    }
}

#[cfg(test)]
mod tests {
    use super::RawTensor;

    /// Element (i, j) moves to (j, i), on shapes that are not multiples of the tile.
    #[test]
    fn transposing_moves_each_element_across_the_diagonal() {
        for (r, c) in [(1, 1), (3, 70), (65, 33), (100, 1), (0, 5)] {
            let t = RawTensor::new(vec![r, c], (0..r * c).map(|v| v as f32).collect());
            let tt = t.transposed().expect("a matrix");
            assert_eq!(tt.shape, vec![c, r]);
            for i in 0..r {
                for j in 0..c {
                    assert_eq!(
                        tt.data[j * r + i],
                        t.data[i * c + j],
                        "({i}, {j}) of {r}×{c}"
                    );
                }
            }
        }
        assert!(RawTensor::new(vec![2, 2, 2], vec![0.0; 8])
            .transposed()
            .is_none());
    }
}

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

    /// The matrix transposed (`[r, c]` → `[c, r]`); `None` for anything but a matrix.
    pub fn transposed(&self) -> Option<RawTensor> {
        let [r, c] = self.shape[..] else { return None };
        let mut data = vec![0f32; r * c];
        for (i, row) in self.data.chunks_exact(c.max(1)).enumerate() {
            for (j, &v) in row.iter().enumerate() {
                data[j * r + i] = v;
            }
        }
        Some(RawTensor::new(vec![c, r], data))
    }
}

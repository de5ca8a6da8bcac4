//! A decoded checkpoint tensor before it becomes a Burn tensor: shape plus f32 values.

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

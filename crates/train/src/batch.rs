//! Training samples and batches: an RGB image with its binary mask and class, turned into the
//! model's normalised input and a mask at map size.

use acd_core::preprocess::{normalize, resize_rgb, RgbImage};

/// One training example as the data sources produce it.
#[derive(Clone, Debug)]
pub struct TrainSample {
    pub image: RgbImage,
    /// Row-major, same size as `image`, non-zero = anomalous.
    pub mask: Vec<u8>,
    pub class_name: String,
}

impl TrainSample {
    pub fn is_anomalous(&self) -> bool {
        self.mask.iter().any(|&m| m != 0)
    }
}

/// Host-side batch, ready to become tensors.
#[derive(Clone, Debug, Default)]
pub struct Batch {
    /// `[B, 3, S, S]` normalised.
    pub images: Vec<f32>,
    /// `[B, M, M]` in {0, 1}.
    pub masks: Vec<f32>,
    /// 1 when the mask has any anomalous pixel.
    pub labels: Vec<f32>,
    pub class_names: Vec<String>,
}

impl Batch {
    pub fn len(&self) -> usize {
        self.labels.len()
    }
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
    pub fn push(&mut self, image_chw: Vec<f32>, mask: Vec<f32>, class_name: String) {
        let label = if mask.iter().any(|&m| m > 0.5) {
            1.0
        } else {
            0.0
        };
        self.images.extend(image_chw);
        self.masks.extend(mask);
        self.labels.push(label);
        self.class_names.push(class_name);
    }
}

/// Nearest-neighbour resize of a mask (PIL `NEAREST` pixel centres), binarised to {0, 1}.
pub fn resize_mask(mask: &[u8], w: usize, h: usize, out: usize) -> Vec<f32> {
    let mut m = vec![0f32; out * out];
    for y in 0..out {
        let sy = (((y as f64 + 0.5) * h as f64 / out as f64) as usize).min(h - 1);
        for x in 0..out {
            let sx = (((x as f64 + 0.5) * w as f64 / out as f64) as usize).min(w - 1);
            m[y * out + x] = if mask[sy * w + sx] != 0 { 1.0 } else { 0.0 };
        }
    }
    m
}

/// The model input of an image: Pillow-exact bicubic resize to `size`² and CLIP normalisation.
pub fn model_input(image: &RgbImage, size: usize) -> Vec<f32> {
    if image.width == size && image.height == size {
        normalize(image)
    } else {
        normalize(&resize_rgb(image, size, size))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_mask_resize_keeps_blocks() {
        // 2×2 checker → 4×4: each source pixel becomes a 2×2 block.
        let m = resize_mask(&[255, 0, 0, 7], 2, 2, 4);
        let expected = [
            1., 1., 0., 0., 1., 1., 0., 0., 0., 0., 1., 1., 0., 0., 1., 1.,
        ];
        assert_eq!(m, expected);
        let mut b = Batch::default();
        b.push(vec![0.0; 3], vec![0.0, 1.0], "x".into());
        b.push(vec![0.0; 3], vec![0.0, 0.0], "x".into());
        assert_eq!(b.labels, vec![1.0, 0.0]);
    }
}

//! Image bytes → normalised model input, as the official test transform does it:
//! decode, `convert('RGB')`, Pillow bicubic resize straight to S×S (no crop), ToTensor, CLIP Normalize.

use std::io::Cursor;

use crate::resample::resize_u8;

pub const CLIP_MEAN: [f32; 3] = [0.48145466, 0.4578275, 0.40821073];
pub const CLIP_STD: [f32; 3] = [0.26862954, 0.26130258, 0.27577711];

/// Limits applied before any pixel buffer is allocated.
#[derive(Clone, Copy, Debug)]
pub struct DecodeLimits {
    /// Largest accepted file (bytes).
    pub max_bytes: usize,
    /// Largest accepted width × height.
    pub max_pixels: u64,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        Self {
            max_bytes: 256 << 20,
            max_pixels: 64_000_000,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("the image file is empty")]
    Empty,
    #[error("the image file is {size} bytes, over the limit of {limit} bytes")]
    TooManyBytes { size: usize, limit: usize },
    #[error("the image is {width}×{height} pixels, over the limit of {limit} pixels")]
    TooManyPixels { width: u32, height: u32, limit: u64 },
    #[error("unrecognised image format (supported: PNG, JPEG, BMP, GIF, WebP, TIFF)")]
    UnknownFormat,
    #[error("could not decode the image: {0}")]
    Decode(String),
    #[error("the image has zero width or height")]
    ZeroSize,
}

/// An 8-bit RGB image, row-major, 3 bytes per pixel.
#[derive(Clone, Debug)]
pub struct RgbImage {
    pub width: usize,
    pub height: usize,
    pub pixels: Vec<u8>,
}

/// Decodes PNG, JPEG, BMP, GIF (first frame), WebP or TIFF bytes to RGB (alpha dropped, grey
/// replicated, 16-bit scaled to 8-bit), enforcing `limits` before decoding pixels.
pub fn decode_image(bytes: &[u8], limits: &DecodeLimits) -> Result<RgbImage, ImageError> {
    if bytes.is_empty() {
        return Err(ImageError::Empty);
    }
    if bytes.len() > limits.max_bytes {
        return Err(ImageError::TooManyBytes {
            size: bytes.len(),
            limit: limits.max_bytes,
        });
    }
    let reader = image::ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| ImageError::Decode(e.to_string()))?;
    if reader.format().is_none() {
        return Err(ImageError::UnknownFormat);
    }
    let (w, h) = reader
        .into_dimensions()
        .map_err(|e| ImageError::Decode(e.to_string()))?;
    if w == 0 || h == 0 {
        return Err(ImageError::ZeroSize);
    }
    if w as u64 * h as u64 > limits.max_pixels {
        return Err(ImageError::TooManyPixels {
            width: w,
            height: h,
            limit: limits.max_pixels,
        });
    }
    let mut reader = image::ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| ImageError::Decode(e.to_string()))?;
    let mut lim = image::Limits::default();
    lim.max_image_width = Some(w);
    lim.max_image_height = Some(h);
    lim.max_alloc = Some((limits.max_pixels * 16).max(1 << 20));
    reader.limits(lim);
    let img = reader
        .decode()
        .map_err(|e| ImageError::Decode(e.to_string()))?;
    let rgb = img.into_rgb8();
    Ok(RgbImage {
        width: rgb.width() as usize,
        height: rgb.height() as usize,
        pixels: rgb.into_raw(),
    })
}

/// Pillow-exact bicubic resize of an RGB image.
pub fn resize_rgb(img: &RgbImage, out_w: usize, out_h: usize) -> RgbImage {
    RgbImage {
        width: out_w,
        height: out_h,
        pixels: resize_u8(&img.pixels, img.width, img.height, 3, out_w, out_h),
    }
}

/// HWC uint8 → CHW f32, `(x/255 − mean)/std` per channel.
pub fn normalize(img: &RgbImage) -> Vec<f32> {
    let n = img.width * img.height;
    let mut out = vec![0f32; 3 * n];
    for (p, px) in img.pixels.chunks_exact(3).enumerate() {
        for c in 0..3 {
            out[c * n + p] = (px[c] as f32 / 255.0 - CLIP_MEAN[c]) / CLIP_STD[c];
        }
    }
    out
}

/// Decode + resize to `size`² + normalise: the model input `[3, size, size]` and the original image.
pub fn preprocess(
    bytes: &[u8],
    size: usize,
    limits: &DecodeLimits,
) -> Result<(Vec<f32>, RgbImage), ImageError> {
    let img = decode_image(bytes, limits)?;
    let resized = if img.width == size && img.height == size {
        img.clone()
    } else {
        resize_rgb(&img, size, size)
    };
    Ok((normalize(&resized), img))
}

//! Image bytes → normalised model input, as the official test transform does it:
//! decode, `convert('RGB')`, Pillow bicubic resize straight to S×S (no crop), ToTensor, CLIP Normalize.

use std::io::Cursor;

use crate::resample::resize_u8;

pub const CLIP_MEAN: [f32; 3] = [0.48145466, 0.4578275, 0.40821073];
pub const CLIP_STD: [f32; 3] = [0.26862954, 0.26130258, 0.27577711];

/// Limits applied before any pixel buffer is allocated. The defaults (256 MiB, 64 megapixels) are
/// the CLI's (`acd detect --max-image-bytes/--max-image-pixels`) and the page's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Largest accepted file (bytes).
    pub max_bytes: usize,
    /// Largest accepted width × height.
    pub max_pixels: u64,
}

pub const DEFAULT_MAX_IMAGE_BYTES: usize = 256 << 20;
pub const DEFAULT_MAX_IMAGE_PIXELS: u64 = 64_000_000;

impl Default for DecodeLimits {
    fn default() -> Self {
        Self {
            max_bytes: DEFAULT_MAX_IMAGE_BYTES,
            max_pixels: DEFAULT_MAX_IMAGE_PIXELS,
        }
    }
}

const SUPPORTED: &str = "PNG, JPEG, BMP, GIF, WebP, TIFF";

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("the image file is empty")]
    Empty,
    #[error("the image file is {size} bytes, over the limit of {limit} bytes")]
    TooManyBytes { size: usize, limit: usize },
    #[error("the image is {width}×{height} pixels, over the limit of {limit} pixels")]
    TooManyPixels { width: u32, height: u32, limit: u64 },
    #[error("unrecognised image format (supported: {SUPPORTED})")]
    UnknownFormat,
    #[error("unsupported image: {0} (supported: {SUPPORTED})")]
    Unsupported(String),
    #[error("could not decode the image (damaged or truncated file?): {0}")]
    Decode(String),
    #[error("the image has zero width or height")]
    ZeroSize,
    #[error("the JPEG file is truncated: it ends before its end-of-image marker (refused, as Pillow does, rather than analysed with the missing part filled in)")]
    TruncatedJpeg,
}

fn decode_error(e: image::ImageError) -> ImageError {
    match e {
        image::ImageError::Unsupported(u) => ImageError::Unsupported(u.to_string()),
        other => ImageError::Decode(other.to_string()),
    }
}

/// An 8-bit RGB image, row-major, 3 bytes per pixel.
#[derive(Clone, Debug)]
pub struct RgbImage {
    pub width: usize,
    pub height: usize,
    pub pixels: Vec<u8>,
}

/// Whether a JPEG reaches its end-of-image marker (`FF D9`) after its first scan. The segments
/// before the scan are walked by their lengths, so an EXIF thumbnail's own markers are skipped;
/// inside entropy-coded data a `FF` byte is always stuffed (`FF 00`) or a restart marker, so
/// `FF D9` there is the real end.
pub fn jpeg_is_complete(bytes: &[u8]) -> bool {
    if bytes.len() < 4 || bytes[0] != 0xFF || bytes[1] != 0xD8 {
        return false;
    }
    let mut i = 2;
    // Walk marker segments up to the first start-of-scan (FF DA).
    loop {
        // Fill bytes (FF FF …) may precede a marker.
        while i < bytes.len() && bytes[i] == 0xFF && bytes.get(i + 1) == Some(&0xFF) {
            i += 1;
        }
        if i + 4 > bytes.len() || bytes[i] != 0xFF {
            return false;
        }
        let marker = bytes[i + 1];
        if marker == 0xD9 {
            return false; // an end before any scan: no image data
        }
        if (0xD0..=0xD7).contains(&marker) || marker == 0x01 {
            i += 2; // standalone markers
            continue;
        }
        let len = u16::from_be_bytes([bytes[i + 2], bytes[i + 3]]) as usize;
        if len < 2 {
            return false;
        }
        let next = i + 2 + len;
        if marker == 0xDA {
            i = next;
            break;
        }
        i = next;
    }
    bytes
        .get(i.min(bytes.len())..)
        .is_some_and(|rest| rest.windows(2).any(|w| w == [0xFF, 0xD9]))
}

/// Decodes PNG, JPEG, BMP, GIF, WebP or TIFF bytes to RGB, enforcing `limits` before any pixel
/// buffer is allocated:
/// - alpha is dropped (as Pillow's `convert('RGB')`), grey is replicated, 16-bit is scaled to
///   8-bit, palettes are expanded, CMYK JPEGs are converted to RGB;
/// - animated GIF, PNG (APNG) and WebP files give their first frame;
/// - the EXIF orientation (JPEG, PNG `eXIf`, WebP, TIFF) is applied, so the image is upright as a
///   photo viewer shows it (the official Pillow transform ignores it; images without EXIF, such
///   as the benchmark datasets, are unaffected).
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
    let mut reader = image::ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| ImageError::Decode(e.to_string()))?;
    let Some(format) = reader.format() else {
        return Err(ImageError::UnknownFormat);
    };
    // Where the header states the size at a fixed place, a zero or too large size gets its own
    // message (the decoders report a zero size as a generic format error).
    if let Some((w, h)) = declared_size(bytes, format) {
        check_size(w, h, limits)?;
    }
    // The JPEG decoder fills a missing tail with grey and reports success: a silently wrong map.
    if format == image::ImageFormat::Jpeg && !jpeg_is_complete(bytes) {
        return Err(ImageError::TruncatedJpeg);
    }
    // A bound on every allocation the decoder makes (the pixel check below is the exact one):
    // 16 bytes per allowed pixel (RGBA at 32 bits per channel), at least 1 MiB.
    let mut lim = image::Limits::default();
    lim.max_alloc = Some(limits.max_pixels.saturating_mul(16).max(1 << 20));
    reader.limits(lim);
    // Reads the header only: the size is checked before the pixels are decoded.
    let mut decoder = reader.into_decoder().map_err(decode_error)?;
    let (w, h) = image::ImageDecoder::dimensions(&decoder);
    check_size(w, h, limits)?;
    // A damaged EXIF block is ignored, as viewers do: the pixels are what matter. image-webp
    // allocates an EXIF chunk at its declared size before reading it (found by fuzzing: 3 GB for
    // a 400-byte file), so a WebP's EXIF is read only when every chunk fits in the file.
    let orientation = if format != image::ImageFormat::WebP || riff_chunks_fit(bytes) {
        image::ImageDecoder::orientation(&mut decoder)
            .unwrap_or(image::metadata::Orientation::NoTransforms)
    } else {
        image::metadata::Orientation::NoTransforms
    };
    let mut img = image::DynamicImage::from_decoder(decoder).map_err(decode_error)?;
    img.apply_orientation(orientation);
    let rgb = img.into_rgb8();
    Ok(RgbImage {
        width: rgb.width() as usize,
        height: rgb.height() as usize,
        pixels: rgb.into_raw(),
    })
}

fn check_size(w: u32, h: u32, limits: &DecodeLimits) -> Result<(), ImageError> {
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
    Ok(())
}

/// Whether every chunk of a RIFF file (WebP) lies within the file, as its declared size says.
fn riff_chunks_fit(b: &[u8]) -> bool {
    let mut at = 12usize;
    while at < b.len() {
        let Some(size) = b.get(at + 4..at + 8) else {
            return false;
        };
        let size = u32::from_le_bytes([size[0], size[1], size[2], size[3]]) as usize;
        match (at + 8).checked_add(size) {
            Some(end) if end <= b.len() => at = end + (size & 1),
            _ => return false,
        }
    }
    true
}

/// Width and height as the header of a PNG (IHDR), GIF (logical screen) or BMP (DIB header)
/// states them; `None` for other formats or a header too short to say.
fn declared_size(b: &[u8], format: image::ImageFormat) -> Option<(u32, u32)> {
    let be32 = |i: usize| Some(u32::from_be_bytes(b.get(i..i + 4)?.try_into().ok()?));
    let le32 = |i: usize| Some(i32::from_le_bytes(b.get(i..i + 4)?.try_into().ok()?));
    let le16 = |i: usize| Some(u16::from_le_bytes(b.get(i..i + 2)?.try_into().ok()?) as u32);
    match format {
        image::ImageFormat::Png if b.get(12..16) == Some(b"IHDR") => Some((be32(16)?, be32(20)?)),
        image::ImageFormat::Gif => Some((le16(6)?, le16(8)?)),
        image::ImageFormat::Bmp => match le32(14)? {
            12 => Some((le16(18)?, le16(20)?)),
            n if n >= 40 => Some((le32(18)?.unsigned_abs(), le32(22)?.unsigned_abs())),
            _ => None,
        },
        _ => None,
    }
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

#[cfg(test)]
mod tests {

    /// SOI, an APP1 segment holding a thumbnail's own SOS … EOI, the frame's SOS header, then
    /// entropy-coded data: complete only when an EOI follows the main scan.
    #[test]
    fn a_jpeg_is_complete_only_with_the_end_marker_after_its_scan() {
        let thumb = [0xFF, 0xD8, 0xFF, 0xDA, 0x00, 0x02, 0x12, 0xFF, 0xD9];
        let mut head = vec![0xFF, 0xD8, 0xFF, 0xE1];
        head.extend(((thumb.len() + 2) as u16).to_be_bytes());
        head.extend(thumb);
        head.extend([0xFF, 0xDA, 0x00, 0x03, 0x01]); // SOS header, length 3
        let data = [0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD0, 0x56]; // stuffed FF, a restart marker
        let mut whole = head.clone();
        whole.extend(data);
        assert!(
            !jpeg_is_complete(&whole),
            "no EOI after the scan: truncated"
        );
        whole.extend([0xFF, 0xD9]);
        assert!(jpeg_is_complete(&whole));
        whole.extend(b"trailing bytes after EOI are allowed");
        assert!(jpeg_is_complete(&whole));
        assert!(
            !jpeg_is_complete(&head[..10]),
            "cut inside the APP1 segment"
        );
        assert!(!jpeg_is_complete(b"not a jpeg"));
    }

    use super::*;

    /// A WebP (VP8X + EXIF chunk) whose EXIF chunk declares `exif_size` bytes but holds 8.
    fn webp_with_exif(exif_size: u32) -> Vec<u8> {
        let mut b = b"RIFF\0\0\0\0WEBPVP8X".to_vec();
        b.extend(10u32.to_le_bytes());
        b.extend([0x08, 0, 0, 0, 1, 0, 0, 1, 0, 0]); // EXIF flag, 2×2 canvas
        b.extend(b"EXIF");
        b.extend(exif_size.to_le_bytes());
        b.extend(b"II*\0\x08\0\0\0");
        b
    }

    #[test]
    fn riff_chunks_must_fit_in_the_file() {
        assert!(riff_chunks_fit(&webp_with_exif(8)));
        assert!(!riff_chunks_fit(&webp_with_exif(9)));
        assert!(!riff_chunks_fit(&webp_with_exif(3_000_000_000)));
        assert!(!riff_chunks_fit(&webp_with_exif(u32::MAX)));
        // a chunk header cut short
        let mut short = webp_with_exif(8);
        short.extend(b"XMP ");
        assert!(!riff_chunks_fit(&short));
    }

    #[test]
    fn a_lying_webp_exif_chunk_is_an_error_or_ignored_never_a_huge_allocation() {
        // The fuzzer's input (fuzz/regressions/image_preprocess/webp-exif-3gb): decoding it may
        // fail, but without reading the EXIF chunk it declares.
        let bytes = include_bytes!("../../../fuzz/regressions/image_preprocess/webp-exif-3gb");
        assert!(!riff_chunks_fit(bytes));
        let _ = decode_image(bytes, &DecodeLimits::default());
    }

    #[test]
    fn declared_sizes_are_read_from_png_gif_and_bmp_headers() {
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        png.extend(70000u32.to_be_bytes());
        png.extend(1000u32.to_be_bytes());
        assert_eq!(
            declared_size(&png, image::ImageFormat::Png),
            Some((70000, 1000))
        );
        let gif = b"GIF89a\x10\x00\x00\x00";
        assert_eq!(declared_size(gif, image::ImageFormat::Gif), Some((16, 0)));
        let mut bmp = vec![0u8; 26];
        bmp[14] = 40;
        bmp[18..22].copy_from_slice(&5i32.to_le_bytes());
        bmp[22..26].copy_from_slice(&(-7i32).to_le_bytes()); // top-down
        assert_eq!(declared_size(&bmp, image::ImageFormat::Bmp), Some((5, 7)));
        assert_eq!(declared_size(&bmp[..20], image::ImageFormat::Bmp), None);
        assert!(matches!(
            decode_image(&png, &DecodeLimits::default()),
            Err(ImageError::TooManyPixels {
                width: 70000,
                height: 1000,
                ..
            })
        ));
        assert!(matches!(
            decode_image(gif, &DecodeLimits::default()),
            Err(ImageError::ZeroSize)
        ));
    }
}

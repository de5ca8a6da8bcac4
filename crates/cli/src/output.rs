//! What `acd detect` writes: a turbo-coloured overlay PNG at the image's size and the raw map as
//! `.npy` (float32, readable with `numpy.load`).

use std::io::Write;
use std::path::Path;

use anyhow::Context;

/// Google's Turbo colormap (polynomial fit by its authors), `x` in [0, 1].
pub fn turbo(x: f32) -> [u8; 3] {
    let x = x.clamp(0.0, 1.0) as f64;
    let poly = |c: [f64; 6]| c[0] + x * (c[1] + x * (c[2] + x * (c[3] + x * (c[4] + x * c[5]))));
    let r = poly([
        0.13572138,
        4.61539260,
        -42.66032258,
        132.13108234,
        -152.94239396,
        59.28637943,
    ]);
    let g = poly([
        0.09140261,
        2.19418839,
        4.84296658,
        -14.18503333,
        4.27729857,
        2.82956604,
    ]);
    let b = poly([
        0.10667330,
        12.64194608,
        -60.58204836,
        110.36276771,
        -89.90310912,
        27.34824973,
    ]);
    [r, g, b].map(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u8)
}

/// The turbo colour of a map value at 256 levels, as the page draws its maps (web/src/colormap.ts:
/// entry i is `turbo(i / 255)`, the value clamped to [0, 1] and NaN taken as 0), so that an overlay
/// written here and the page's agree.
fn turbo_level(v: f32) -> usize {
    if !(v > 0.0) {
        0
    } else if v >= 1.0 {
        255
    } else {
        // JavaScript's Math.round(v·255): v·255 and the half added are exact in f64.
        (v as f64 * 255.0 + 0.5) as usize
    }
}

/// Blends the coloured map over the RGB image (`alpha` for the map): each channel
/// `round((1 − alpha)·pixel + alpha·colour)`. Both operands are bytes, so the blend is a table of
/// every (pixel, colour) pair (64 KiB), and a 12-megapixel photo costs lookups instead of 36
/// million roundings and 12 million polynomials (about 40 % of `acd detect`'s time on such photos).
pub fn overlay(rgb: &[u8], map: &[f32], alpha: f32) -> Vec<u8> {
    let colours: Vec<[u8; 3]> = (0..256).map(|i| turbo(i as f32 / 255.0)).collect();
    let blend: Vec<u8> = (0..256 * 256)
        .map(|i| ((1.0 - alpha) * (i / 256) as f32 + alpha * (i % 256) as f32).round() as u8)
        .collect();
    let mut out = rgb.to_vec();
    for (px, &m) in out.chunks_exact_mut(3).zip(map) {
        let c = colours[turbo_level(m)];
        for i in 0..3 {
            px[i] = blend[px[i] as usize * 256 + c[i] as usize];
        }
    }
    out
}

pub fn write_png_rgb(path: &Path, rgb: &[u8], width: usize, height: usize) -> anyhow::Result<()> {
    image::save_buffer(
        path,
        rgb,
        width as u32,
        height as u32,
        image::ExtendedColorType::Rgb8,
    )
    .with_context(|| format!("writing {}", path.display()))
}

/// A float32 `.npy` (format 1.0) of shape `[height, width]`.
pub fn write_npy_f32(path: &Path, data: &[f32], height: usize, width: usize) -> anyhow::Result<()> {
    let dict =
        format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({height}, {width}), }}");
    let unpadded = 10 + dict.len() + 1;
    let pad = (64 - unpadded % 64) % 64;
    let header = format!("{dict}{}\n", " ".repeat(pad));
    let mut f = std::io::BufWriter::new(
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
    );
    f.write_all(b"\x93NUMPY\x01\x00")?;
    f.write_all(&(header.len() as u16).to_le_bytes())?;
    f.write_all(header.as_bytes())?;
    // In blocks, not one write call per value (12 million of them for a 12-megapixel photo).
    for block in data.chunks(1 << 14) {
        let bytes: Vec<u8> = block.iter().flat_map(|v| v.to_le_bytes()).collect();
        f.write_all(&bytes)?;
    }
    f.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turbo_runs_blue_green_red() {
        // Turbo: blue at low values, green in the middle, red at high values.
        let argmax = |c: [u8; 3]| (0..3).max_by_key(|&i| c[i]).unwrap();
        assert_eq!(argmax(turbo(0.15)), 2, "{:?}", turbo(0.15));
        assert_eq!(argmax(turbo(0.5)), 1, "{:?}", turbo(0.5));
        assert_eq!(argmax(turbo(0.9)), 0, "{:?}", turbo(0.9));
        assert_eq!(turbo(-1.0), turbo(0.0));
    }

    /// The page's `lutIndex` (web/src/colormap.ts): Math.round(v·255), which rounds halves up;
    /// clamped; NaN → 0.
    #[test]
    fn map_levels_are_the_pages() {
        // Values whose products with 255 are exact, so the expected level is plain arithmetic.
        let cases = [
            (0.5, 128),         // 127.5: a half rounds up
            (0.25, 64),         // 63.75
            (0.125, 32),        // 31.875
            (0.001953125, 0),   // 2^-9: 0.498…
            (0.00390625, 1),    // 2^-8: 0.996…
            (0.998046875, 255), // 254.50…
            (0.99609375, 254),  // 254.00390625
            (1.0, 255),
            (7.0, 255),
            (-0.2, 0),
            (f32::NAN, 0),
        ];
        for (v, level) in cases {
            assert_eq!(turbo_level(v), level, "{v}");
        }
    }

    /// Each channel is round((1 − α)·pixel + α·colour) of the level's turbo colour: checked on
    /// every pixel value against every colour level, for three opacities.
    #[test]
    fn overlay_blends_each_channel_with_its_turbo_colour() {
        for alpha in [0.0f32, 0.35, 1.0] {
            let pixels: Vec<u8> = (0..=255u8).flat_map(|p| [p, 255 - p, p / 2]).collect();
            for level in 0..256 {
                let map = vec![level as f32 / 255.0; 256];
                let c = turbo(level as f32 / 255.0);
                let got = overlay(&pixels, &map, alpha);
                for (i, (&p, &o)) in pixels.iter().zip(&got).enumerate() {
                    let want = ((1.0 - alpha) * p as f32 + alpha * c[i % 3] as f32).round() as u8;
                    assert_eq!(o, want, "alpha {alpha}, level {level}, byte {i}");
                }
            }
        }
    }

    #[test]
    fn npy_header_is_aligned() {
        let dir = std::env::temp_dir().join(format!("acd-npy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("m.npy");
        write_npy_f32(&p, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 2, 3).unwrap();
        let bytes = std::fs::read(&p).unwrap();
        let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
        assert_eq!((10 + header_len) % 64, 0);
        assert_eq!(bytes.len(), 10 + header_len + 24);
        assert_eq!(
            f32::from_le_bytes(bytes[10 + header_len..14 + header_len].try_into().unwrap()),
            1.0
        );
    }
}

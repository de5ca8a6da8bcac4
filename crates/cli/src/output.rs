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

/// Blends the coloured map over the RGB image (`alpha` for the map).
pub fn overlay(rgb: &[u8], map: &[f32], alpha: f32) -> Vec<u8> {
    let mut out = Vec::with_capacity(rgb.len());
    for (px, &m) in rgb.chunks_exact(3).zip(map) {
        let c = turbo(m);
        for i in 0..3 {
            out.push(((1.0 - alpha) * px[i] as f32 + alpha * c[i] as f32).round() as u8);
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
    for v in data {
        f.write_all(&v.to_le_bytes())?;
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

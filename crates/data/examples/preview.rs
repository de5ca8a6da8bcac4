//! Writes a contact sheet of every texture kind (4 seeds) and every anomaly kind, and prints
//! timings. Usage: `cargo run --release -p acd-data --example preview -- <out_dir> [size]`.

use std::time::Instant;

use acd_data::{generate, AnomalyKind, Synthesizer, TextureKind};
use image::{GenericImage, RgbImage};

fn main() {
    let mut args = std::env::args().skip(1);
    let out = std::path::PathBuf::from(args.next().unwrap_or_else(|| "preview".into()));
    let size: u32 = args.next().map(|s| s.parse().expect("size")).unwrap_or(256);
    std::fs::create_dir_all(&out).unwrap();
    let kinds = TextureKind::all();
    let reps = 8u64;

    // Texture timing.
    let t = Instant::now();
    for &k in kinds {
        for s in 0..reps {
            std::hint::black_box(generate(k, s, size));
        }
    }
    let per_tex = t.elapsed().as_secs_f64() * 1e3 / (kinds.len() as f64 * reps as f64);
    for &k in kinds {
        let t = Instant::now();
        for s in 0..reps {
            std::hint::black_box(generate(k, s, size));
        }
        println!(
            "{:>14}: {:.2} ms / texture ({size}x{size})",
            k.name(),
            t.elapsed().as_secs_f64() * 1e3 / reps as f64
        );
    }
    println!("texture mean: {per_tex:.2} ms");

    // Sheet 1: 4 seeds per kind (rows = kinds).
    let mut sheet = RgbImage::new(size * 4, size * kinds.len() as u32);
    for (r, &k) in kinds.iter().enumerate() {
        for s in 0..4u32 {
            sheet
                .copy_from(&generate(k, s as u64, size), s * size, r as u32 * size)
                .unwrap();
        }
    }
    sheet.save(out.join("textures.png")).unwrap();

    // Sheet 2: per kind, each anomaly kind: image and mask side by side.
    let syn = Synthesizer::default();
    let ak = AnomalyKind::all();
    let mut sheet = RgbImage::new(size * 2 * ak.len() as u32, size * kinds.len() as u32);
    let mut times: Vec<(AnomalyKind, f64, u32)> = ak.iter().map(|&a| (a, 0.0, 0)).collect();
    for (r, &k) in kinds.iter().enumerate() {
        let img = generate(k, 100 + r as u64, size);
        for (c, &a) in ak.iter().enumerate() {
            let t = Instant::now();
            let s = syn.synthesize(&img, Some(a), r as u64).unwrap();
            times[c].1 += t.elapsed().as_secs_f64() * 1e3;
            times[c].2 += s.attempts;
            sheet
                .copy_from(&s.image, 2 * c as u32 * size, r as u32 * size)
                .unwrap();
            let m = image::DynamicImage::ImageLuma8(s.mask).into_rgb8();
            sheet
                .copy_from(&m, (2 * c as u32 + 1) * size, r as u32 * size)
                .unwrap();
        }
    }
    sheet.save(out.join("anomalies.png")).unwrap();
    for (a, ms, att) in times {
        println!(
            "{:>10}: {:.2} ms / synthesis, mean attempts {:.2}",
            a.name(),
            ms / kinds.len() as f64,
            att as f64 / kinds.len() as f64
        );
    }
}

//! Times pixel AUROC + AP + F1-max + AUPRO (one shared sort) on ~40 million
//! random pixels: 150 maps of 518×518 with blob masks.
//!
//! `cargo run --release -p acd-eval --example metric_speed [n_maps] [side]`

use acd_eval::metrics::PixelMetrics;
use std::time::Instant;

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let n_maps = args.first().copied().unwrap_or(150);
    let side = args.get(1).copied().unwrap_or(518);
    let mut s = 0x1234_5678_9abc_def0u64;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    let t0 = Instant::now();
    let mut maps = Vec::with_capacity(n_maps);
    let mut masks = Vec::with_capacity(n_maps);
    for i in 0..n_maps {
        let mut mask = vec![0u8; side * side];
        if i % 3 != 0 {
            for _ in 0..3 {
                let (cx, cy) = ((next() % side as u64) as i64, (next() % side as u64) as i64);
                let r = 5 + (next() % 40) as i64;
                for y in (cy - r).max(0)..(cy + r).min(side as i64) {
                    for x in (cx - r).max(0)..(cx + r).min(side as i64) {
                        if (x - cx).pow(2) + (y - cy).pow(2) <= r * r {
                            mask[y as usize * side + x as usize] = 1;
                        }
                    }
                }
            }
        }
        let map: Vec<f32> = mask
            .iter()
            .map(|&m| ((next() >> 40) as f32 / (1u64 << 24) as f32) + 0.3 * m as f32)
            .collect();
        maps.push(map);
        masks.push(mask);
    }
    let gen = t0.elapsed();
    let map_refs: Vec<&[f32]> = maps.iter().map(Vec::as_slice).collect();
    let mask_refs: Vec<&[u8]> = masks.iter().map(Vec::as_slice).collect();
    let t1 = Instant::now();
    let m = PixelMetrics::compute(&map_refs, &mask_refs, side, side, 0.3, 500);
    let dt = t1.elapsed();
    let n = n_maps * side * side;
    println!("generated {n} pixels in {:.2} s", gen.as_secs_f64());
    println!(
        "pixel AUROC {:.6}  AP {:.6}  F1-max {:.6}  AUPRO {:.6}  ({} regions)",
        m.binary.auroc.unwrap_or(f64::NAN),
        m.binary.ap.unwrap_or(f64::NAN),
        m.binary.f1_max.unwrap_or(f64::NAN),
        m.aupro.unwrap_or(f64::NAN),
        m.n_regions
    );
    println!(
        "AUROC+AP+F1+AUPRO on {n} pixels ({n_maps} maps of {side}x{side}): {:.2} s ({:.1} Mpixel/s)",
        dt.as_secs_f64(),
        n as f64 / dt.as_secs_f64() / 1e6
    );
}

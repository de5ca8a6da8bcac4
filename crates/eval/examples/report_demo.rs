//! Writes a demo report (Markdown, JSON, CSV, HTML) from synthetic scores:
//! `cargo run --release -p acd-eval --example report_demo OUT_DIR`.

use acd_eval::report::{evaluate_class, ClassData, Miss, Missing, PixelData, Report};

fn main() {
    let out = std::path::PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "report-demo".into()),
    );
    std::fs::create_dir_all(&out).unwrap();
    let mut s = 7u64;
    let mut rnd = move || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (s >> 40) as f32 / (1u64 << 24) as f32
    };
    let (w, h) = (64usize, 64usize);
    let mut classes = Vec::new();
    for (ci, name) in ["bottle", "cable & <wire>", "screw"].iter().enumerate() {
        let sep = 0.2 + 0.3 * ci as f32;
        let (mut maps, mut masks, mut scores, mut labels) = (vec![], vec![], vec![], vec![]);
        for i in 0..40 {
            let label = u8::from(i % 3 == 0);
            let mut mask = vec![0u8; w * h];
            if label == 1 {
                let (cx, cy, r) = (
                    10 + (rnd() * 40.0) as i32,
                    10 + (rnd() * 40.0) as i32,
                    3 + (rnd() * 8.0) as i32,
                );
                for y in 0..h as i32 {
                    for x in 0..w as i32 {
                        if (x - cx).pow(2) + (y - cy).pow(2) <= r * r {
                            mask[y as usize * w + x as usize] = 1;
                        }
                    }
                }
            }
            let map: Vec<f32> = mask.iter().map(|&m| rnd() + sep * m as f32).collect();
            scores.push(rnd() + sep * label as f32);
            labels.push(label);
            maps.push(map);
            masks.push(mask);
        }
        let mr: Vec<&[f32]> = maps.iter().map(Vec::as_slice).collect();
        let kr: Vec<&[u8]> = masks.iter().map(Vec::as_slice).collect();
        classes.push(evaluate_class(
            &ClassData {
                class_name: name,
                image_scores: &scores,
                image_labels: &labels,
                pixels: Some(PixelData {
                    maps: &mr,
                    masks: &kr,
                    width: w,
                    height: h,
                }),
                anomalous_without_mask: 0,
            },
            0.3,
        ));
    }
    // A tiny 2×2 PNG as a stand-in overlay.
    let mut png = Vec::new();
    let img = image::RgbImage::from_fn(32, 32, |x, y| {
        image::Rgb([(x * 8) as u8, (y * 8) as u8, 128])
    });
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let misses = vec![Miss {
        class_name: "screw".into(),
        file: "test/good/007.png".into(),
        label: 0,
        score: 0.93,
        png,
    }];
    let r = Report::new(
        "ACD-CLIP demo report",
        serde_json::json!({"fpr_limit": 0.3, "note": "synthetic"}),
        classes,
        Missing::Zero,
    );
    std::fs::write(out.join("report.md"), r.to_markdown()).unwrap();
    std::fs::write(out.join("report.json"), r.to_json()).unwrap();
    std::fs::write(out.join("report.csv"), r.to_csv()).unwrap();
    std::fs::write(out.join("report.html"), r.to_html(&misses)).unwrap();
    print!("{}", r.to_markdown());
}

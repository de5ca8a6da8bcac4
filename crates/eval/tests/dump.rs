//! A dump (maps, PNG masks, scores.json) recomputes to the same metrics as
//! the in-memory evaluation.

use acd_eval::dump::{
    read_scores, recompute_from_dump, resize_nearest, write_npy, write_scores, RunSettings,
    ScoreRecord, ScoresFile,
};
use acd_eval::report::{evaluate_class, ClassData, PixelData};

fn lcg(s: &mut u64) -> f32 {
    *s = s
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (*s >> 40) as f32 / (1u64 << 24) as f32
}

#[test]
fn nearest_resize_is_centre_aligned() {
    // 2×1 -> 4×1 duplicates, 4×1 -> 2×1 takes pixels 0+? : centres 1 and 3.
    assert_eq!(resize_nearest(&[1, 2], 2, 1, 4, 1), vec![1, 1, 2, 2]);
    assert_eq!(resize_nearest(&[1, 2, 3, 4], 4, 1, 2, 1), vec![2, 4]);
    assert_eq!(resize_nearest(&[1, 2, 3], 3, 1, 3, 1), vec![1, 2, 3]);
}

#[test]
fn recompute_from_dump_matches_direct_evaluation() {
    let dir = std::env::temp_dir().join(format!("acd-eval-dump-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("masks")).unwrap();
    let (w, h) = (16usize, 12usize);
    let mut seed = 42u64;
    let mut records = Vec::new();
    let mut maps = Vec::new();
    let mut masks = Vec::new();
    let mut scores = Vec::new();
    let mut labels = Vec::new();
    for i in 0..6 {
        let label = u8::from(i % 2 == 1);
        // Mask at twice the map size (32×24), grey value 255 or 1; nearest-resized back.
        let mut small = vec![0u8; w * h];
        if label == 1 {
            for y in 2 + i..5 + i {
                for x in 3..7 + i {
                    small[y * w + x] = 1;
                }
            }
            small[(h - 1) * w] = 1; // a corner pixel
        }
        let big = image::GrayImage::from_fn(2 * w as u32, 2 * h as u32, |x, y| {
            image::Luma([if small[(y as usize / 2) * w + x as usize / 2] != 0 {
                if i == 3 {
                    1
                } else {
                    255
                }
            } else {
                0
            }])
        });
        let mask_path = format!("masks/{i}.png");
        let map: Vec<f32> = (0..w * h)
            .map(|p| lcg(&mut seed) + small[p] as f32 * 0.5)
            .collect();
        let map_rel = format!("maps/img {i}.npy");
        write_npy(&dir.join(&map_rel), &map, h, w).unwrap();
        let score = map.iter().cloned().fold(f32::MIN, f32::max);
        let mask = if label == 1 {
            big.save(dir.join(&mask_path)).unwrap();
            Some(mask_path)
        } else {
            None
        };
        records.push(ScoreRecord {
            image: format!("data/{i}.png"),
            class_name: if i < 4 { "screw".into() } else { "nut".into() },
            label,
            score,
            p_cls: Some(0.5),
            pixel_max: Some(score),
            map: Some(map_rel),
            mask,
        });
        maps.push(map);
        masks.push(small);
        scores.push(score);
        labels.push(label);
    }
    let file = ScoresFile::new(
        RunSettings {
            fpr_limit: 0.3,
            ..Default::default()
        },
        records,
    );
    write_scores(&dir, &file).unwrap();
    assert_eq!(read_scores(&dir).unwrap(), file);

    let got = recompute_from_dump(&dir).unwrap();
    assert_eq!(got.len(), 2);
    for (k, (name, range)) in [("screw", 0..4), ("nut", 4..6)].into_iter().enumerate() {
        let map_refs: Vec<&[f32]> = maps[range.clone()].iter().map(Vec::as_slice).collect();
        let mask_refs: Vec<&[u8]> = masks[range.clone()].iter().map(Vec::as_slice).collect();
        let want = evaluate_class(
            &ClassData {
                class_name: name,
                image_scores: &scores[range.clone()],
                image_labels: &labels[range.clone()],
                pixels: Some(PixelData {
                    maps: &map_refs,
                    masks: &mask_refs,
                    width: w,
                    height: h,
                }),
                anomalous_without_mask: 0,
            },
            0.3,
        );
        assert_eq!(got[k], want);
        assert!(want.pixel_aupro.is_some() && want.pixel_auroc.unwrap() > 0.5);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// An anomalous image without a mask has an image label only: the class keeps its image
/// metrics and says why it has no pixel metrics.
#[test]
fn anomalous_image_without_mask_has_image_metrics_only() {
    let dir = std::env::temp_dir().join(format!("acd-eval-dump-nomask-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    write_npy(&dir.join("m.npy"), &[0.0; 4], 2, 2).unwrap();
    let rec = ScoreRecord {
        image: "x.png".into(),
        class_name: "c".into(),
        label: 1,
        score: 1.0,
        p_cls: None,
        pixel_max: None,
        map: Some("m.npy".into()),
        mask: None,
    };
    let normal = ScoreRecord {
        image: "y.png".into(),
        label: 0,
        score: 0.5,
        ..rec.clone()
    };
    write_scores(
        &dir,
        &ScoresFile::new(RunSettings::default(), vec![rec, normal]),
    )
    .unwrap();
    let classes = recompute_from_dump(&dir).unwrap();
    assert_eq!(classes[0].image_auroc, Some(1.0));
    assert_eq!(classes[0].pixel_auroc, None);
    assert_eq!(
        classes[0].pixel_metrics,
        acd_eval::report::PixelMetricsStatus::NoMasks { anomalous: 1 }
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

//! The paper's evaluation protocol (docs/model.md §6) on any backend: per class, every image
//! through the detector (maps at model size, test-time blur, the domain's score fusion), masks
//! nearest-resized to the map size, then pixel and image metrics per class and the class mean.
//! Used by `acd eval` and by the trainer's validation, so both report the same numbers.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use acd_core::preprocess::RgbImage;
use acd_core::Detector;
use acd_eval::dump::{write_npy, write_scores, RunSettings, ScoreRecord, ScoresFile};
use acd_eval::{evaluate_class, ClassData, ClassResult, PixelData};
use burn::tensor::backend::Backend;

use crate::batch::resize_mask;
use crate::TrainError;

/// One test image with its ground truth.
pub struct EvalImage {
    /// Shown in reports and `scores.json` (a path, or a generated name).
    pub name: String,
    pub class_name: String,
    pub image: RgbImage,
    /// 0 = normal, 1 = anomalous.
    pub label: u8,
    /// Row-major at the image's size, non-zero = anomalous. `None`: all normal for a normal image;
    /// not known for an anomalous one (an image-level label: no pixel metrics for its class).
    pub mask: Option<Vec<u8>>,
    /// Mask file to cite in `scores.json` (when the image came from disk).
    pub mask_path: Option<PathBuf>,
}

/// What one image produced (kept for reports and dumps).
pub struct ImageResult {
    pub name: String,
    pub class_name: String,
    pub label: u8,
    pub score: f32,
    pub p_cls: f32,
    pub pixel_max: f32,
    /// At map size.
    pub map: Vec<f32>,
    /// At map size (all zero when there is none).
    pub mask: Vec<u8>,
    /// Whether `mask` is ground truth (false for an anomalous image with an image label only).
    pub has_mask: bool,
    pub mask_path: Option<PathBuf>,
    /// The out-of-domain check against the class's normal-reference memory (`None` without one):
    /// true when the detector called the image outside what it knows.
    pub outside: Option<bool>,
}

pub struct EvalRun {
    pub classes: Vec<ClassResult>,
    pub images: Vec<ImageResult>,
    pub map_size: usize,
    /// Seconds spent in the detector and in the metrics.
    pub detect_seconds: f64,
    pub metric_seconds: f64,
}

/// Runs every image of `images` (grouped by class, in order) and computes the metrics.
/// `category_of(class)` gives the detector's category text for a class (its name by default).
pub fn evaluate<B: Backend>(
    detector: &mut Detector<B>,
    images: impl IntoIterator<Item = Result<EvalImage, TrainError>>,
    fpr_limit: f64,
    on_image: &mut dyn FnMut(&EvalImage, &ImageResult),
) -> Result<EvalRun, TrainError> {
    evaluate_as(detector, images, fpr_limit, None, on_image)
}

/// `evaluate` with every image detected as `category` (when given) instead of its class's own
/// category text: for a bundle without a text tower on classes it has no embedding for.
pub fn evaluate_as<B: Backend>(
    detector: &mut Detector<B>,
    images: impl IntoIterator<Item = Result<EvalImage, TrainError>>,
    fpr_limit: f64,
    category: Option<&str>,
    on_image: &mut dyn FnMut(&EvalImage, &ImageResult),
) -> Result<EvalRun, TrainError> {
    let m = detector.config().map_size;
    let start = std::time::Instant::now();
    let mut results = Vec::new();
    for item in images {
        let item = item?;
        let label = item.label;
        let text = category
            .map(str::to_string)
            .unwrap_or_else(|| category_text(&item.class_name));
        let det = detector
            .detect_image(&item.image, &text)
            .map_err(|e| TrainError::Model(format!("{}: {e}", item.name)))?;
        let mask = match &item.mask {
            Some(mk) => resize_mask(mk, item.image.width, item.image.height, m)
                .into_iter()
                .map(|v| v as u8)
                .collect(),
            None => vec![0u8; m * m],
        };
        let pixel_max = det.map.iter().copied().fold(f32::MIN, f32::max);
        let r = ImageResult {
            name: item.name.clone(),
            class_name: item.class_name.clone(),
            label,
            score: det.score,
            p_cls: det.p_cls,
            pixel_max,
            map: det.map,
            mask,
            has_mask: label == 0 || item.mask.is_some(),
            mask_path: item.mask_path.clone(),
            outside: det.domain.map(|d| d.outside),
        };
        on_image(&item, &r);
        results.push(r);
    }
    let detect_seconds = start.elapsed().as_secs_f64();
    let t = std::time::Instant::now();
    let classes = class_metrics(&results, m, fpr_limit);
    Ok(EvalRun {
        classes,
        images: results,
        map_size: m,
        detect_seconds,
        metric_seconds: t.elapsed().as_secs_f64(),
    })
}

/// The category text of a class name: dataset classes keep their name (the prompts use their
/// real names). Other names are used as written (`woven_fabric`): `Category::parse` keeps a custom
/// name as its key, so the replacement below only applies to a dataset class written in another
/// case. Trained models (the demo bundle) depend on this text: changing it changes their prompts.
pub fn category_text(class_name: &str) -> String {
    if acd_core::prompts::Category::parse(class_name).key() == class_name {
        class_name.to_string()
    } else {
        class_name.replace('_', " ")
    }
}

/// Per-class metrics of finished results (classes in sorted order).
pub fn class_metrics(results: &[ImageResult], map_size: usize, fpr_limit: f64) -> Vec<ClassResult> {
    let mut by_class: BTreeMap<&str, Vec<&ImageResult>> = BTreeMap::new();
    for r in results {
        by_class.entry(&r.class_name).or_default().push(r);
    }
    by_class
        .into_iter()
        .map(|(class, items)| {
            let scores: Vec<f32> = items.iter().map(|r| r.score).collect();
            let labels: Vec<u8> = items.iter().map(|r| r.label).collect();
            let maps: Vec<&[f32]> = items.iter().map(|r| r.map.as_slice()).collect();
            let masks: Vec<&[u8]> = items.iter().map(|r| r.mask.as_slice()).collect();
            evaluate_class(
                &ClassData {
                    class_name: class,
                    image_scores: &scores,
                    image_labels: &labels,
                    pixels: Some(PixelData {
                        maps: &maps,
                        masks: &masks,
                        width: map_size,
                        height: map_size,
                    }),
                    anomalous_without_mask: items.iter().filter(|r| !r.has_mask).count(),
                },
                fpr_limit,
            )
        })
        .collect()
}

/// Writes `DIR/maps/<class>/<i>.npy` and `DIR/scores.json` (with masks as `.npy`-free PNG paths
/// when known, else written as PNG under `DIR/masks/`), enough to recompute every number.
pub fn write_dump(
    dir: &Path,
    run: &EvalRun,
    settings: serde_json::Map<String, serde_json::Value>,
    fpr_limit: f64,
) -> Result<(), TrainError> {
    let io = |e: String| TrainError::Io(e);
    let mut records = Vec::with_capacity(run.images.len());
    let m = run.map_size;
    for (i, r) in run.images.iter().enumerate() {
        let safe_class: String = r
            .class_name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let rel_map = format!("maps/{safe_class}/{i:05}.npy");
        let path = dir.join(&rel_map);
        std::fs::create_dir_all(path.parent().expect("has parent"))
            .map_err(|e| io(e.to_string()))?;
        write_npy(&path, &r.map, m, m).map_err(|e| io(e.to_string()))?;
        // The mask as evaluated (already at map size), so that recomputation needs nothing else.
        let mask = if r.label == 0 || !r.has_mask {
            None
        } else {
            let rel = format!("masks/{safe_class}/{i:05}.png");
            let p = dir.join(&rel);
            std::fs::create_dir_all(p.parent().expect("has parent"))
                .map_err(|e| io(e.to_string()))?;
            let img = image::GrayImage::from_raw(
                m as u32,
                m as u32,
                r.mask
                    .iter()
                    .map(|&v| if v != 0 { 255 } else { 0 })
                    .collect(),
            )
            .expect("size matches");
            img.save(&p)
                .map_err(|e| io(format!("{}: {e}", p.display())))?;
            Some(rel)
        };
        records.push(ScoreRecord {
            image: r.name.clone(),
            class_name: r.class_name.clone(),
            label: r.label,
            score: r.score,
            p_cls: Some(r.p_cls),
            pixel_max: Some(r.pixel_max),
            map: Some(rel_map),
            mask,
        });
    }
    let scores = ScoresFile::new(
        RunSettings {
            fpr_limit,
            extra: settings,
        },
        records,
    );
    write_scores(dir, &scores).map_err(|e| io(e.to_string()))
}

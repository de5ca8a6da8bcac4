//! `acd eval`: the paper's protocol (docs/model.md §6) plus AUPRO and F1-max, on a dataset or on
//! the project's procedural textures. Prints the Markdown table; writes Markdown, JSON, CSV and a
//! self-contained HTML report (curves and the worst misses); `--dump` writes every map and
//! `scores.json` so that any number can be recomputed.

use std::path::PathBuf;
use std::process::ExitCode;

use acd_eval::report::Miss;
use acd_eval::{Missing, Report};
use acd_train::evaluation::{evaluate_as, write_dump, EvalImage, ImageResult};
use acd_train::sources::{dataset_eval_set, texture_eval_set};
use acd_train::TrainError;
use anyhow::{bail, Context};
use burn::tensor::backend::Backend;
use indicatif::{ProgressBar, ProgressStyle};

use crate::data_args::{DatasetArgs, TextureArgs};
use crate::model_source::{self, ModelArgs};
use crate::output::overlay;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub dataset: DatasetArgs,
    #[command(flatten)]
    pub textures: TextureArgs,
    /// Normal and anomalous images per texture class.
    #[arg(long, default_value_t = 20)]
    pub per_class: usize,
    /// Folder for report.md, report.json, report.csv, report.html.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Write each map (.npy, float32) and scores.json here.
    #[arg(long)]
    pub dump: Option<PathBuf>,
    /// AUPRO integration limit on the false-positive rate.
    #[arg(long, default_value_t = 0.3)]
    pub fpr_limit: f64,
    /// Overlays of this many worst misses per kind (anomalous scored lowest, normal highest).
    #[arg(long, default_value_t = 6)]
    pub worst: usize,
    /// Undefined per-class values (a class with one label) count as 0 in the mean (the paper) or are skipped.
    #[arg(long, default_value = "zero")]
    pub missing: String,
    /// Where to run: flex (the CPU default: gemm matmul, all cores), ndarray (CPU), wgpu, cuda.
    #[arg(long, value_enum, default_value = "flex")]
    pub backend: crate::backend::BackendKind,
    /// Few-shot mode: evaluate zero-shot and then with a normal-reference memory of K normal images
    /// per class for each K given (comma separated, e.g. 1,2,4,8). References come from the
    /// dataset's normal training images, or are held out of its normal test images (folder
    /// datasets: the same max(K) images are held out of every row), or for --textures from a data
    /// seed derived from --texture-seed and --shot-seed; never from the test images.
    #[arg(long, value_delimiter = ',')]
    pub shots: Vec<usize>,
    /// Detect every class as this category (its prompts, or its text embedding in a bundle) instead
    /// of the class's own name: for a bundle without a text tower on classes it has no embedding for.
    #[arg(long)]
    pub category: Option<String>,
    /// Seed of the reference draw (and of the memory's coreset).
    #[arg(long, default_value_t = 0)]
    pub shot_seed: u64,
    /// Which patch features the --shots memories keep: patch-embedding, group-tokens or both.
    #[arg(long, default_value = "patch-embedding", value_parser = crate::detect::parse_features)]
    pub reference_features: acd_core::reference::ReferenceFeatures,
}

/// Small copies kept for the report's overlays.
struct Thumb {
    rgb: Vec<u8>,
    side: usize,
}

const THUMB: usize = 160;

fn thumbnail(item: &EvalImage, r: &ImageResult, map_size: usize) -> Thumb {
    let img = acd_core::preprocess::resize_rgb(&item.image, THUMB, THUMB);
    let map = acd_core::resample::resize_bilinear_f32(&r.map, map_size, map_size, THUMB, THUMB);
    Thumb {
        rgb: overlay(&img.pixels, &map, 0.5),
        side: THUMB,
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let missing = match args.missing.as_str() {
        "zero" => Missing::Zero,
        "skip" => Missing::Skip,
        other => bail!("--missing {other:?}: use zero or skip"),
    };
    let source = model_source::source(&args.model)?;
    if !args.shots.is_empty() {
        return crate::with_backend!(args.backend, |B, device| crate::shots::run_shots::<B>(
            &args, source, missing, device
        ));
    }
    crate::with_backend!(args.backend, |B, device| run_with::<B>(
        &args, source, missing, device
    ))
}

fn run_with<B: Backend>(
    args: &Args,
    source: model_source::Source,
    missing: Missing,
    device: B::Device,
) -> anyhow::Result<ExitCode> {
    let mut detector = model_source::detector::<B>(source, device)?;
    let map_size = detector.config().map_size;
    let dataset = args.dataset.open()?;
    let spec = args.textures.spec_if_set(args.per_class)?;
    let (images, total) = test_images(dataset.as_ref(), spec.as_ref(), &args.textures)?;
    let bar = progress_bar(total);
    let mut thumbs: Vec<Thumb> = Vec::new();
    let run = evaluate_as(
        &mut detector,
        images,
        args.fpr_limit,
        args.category.as_deref(),
        &mut |item, r| {
            bar.inc(1);
            bar.set_message(r.class_name.clone());
            thumbs.push(thumbnail(item, r, map_size));
        },
    )?;
    bar.finish_and_clear();
    let mut settings = serde_json::Map::new();
    settings.insert("model".into(), serde_json::to_value(detector.config())?);
    settings.insert(
        "training_free".into(),
        detector.head().is_training_free().into(),
    );
    settings.insert("map_size".into(), map_size.into());
    settings.insert("fpr_limit".into(), args.fpr_limit.into());
    if let Some(sp) = &spec {
        settings.insert("textures".into(), serde_json::to_value(sp)?);
    }
    if let Some(ds) = &args.dataset.dataset {
        settings.insert("dataset".into(), ds.display().to_string().into());
    }
    settings.insert(
        "seconds".into(),
        serde_json::json!({"detect": run.detect_seconds, "metrics": run.metric_seconds}),
    );
    let pixels: usize = run.images.len() * map_size * map_size;
    let report = Report::new(
        "ACD-CLIP evaluation",
        serde_json::Value::Object(settings.clone()),
        run.classes.clone(),
        missing,
    );
    println!("{}", report.to_markdown());
    let operating = operating_points(&detector, &run.images, args.category.as_deref());
    if !operating.is_empty() {
        println!("{}", operating_markdown(&operating));
        settings.insert("operating_points".into(), serde_json::to_value(&operating)?);
    }
    eprintln!(
        "{} images, {} pixels: detection {:.1} s, metrics {:.2} s",
        run.images.len(),
        pixels,
        run.detect_seconds,
        run.metric_seconds
    );
    if let Some(dir) = &args.dump {
        write_dump(dir, &run, settings.clone(), args.fpr_limit)?;
        eprintln!("wrote {}", dir.join("scores.json").display());
    }
    if let Some(out) = &args.out {
        std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
        std::fs::write(out.join("report.md"), report.to_markdown())?;
        std::fs::write(out.join("report.json"), report.to_json())?;
        std::fs::write(out.join("report.csv"), report.to_csv())?;
        let misses = worst_misses(&run.images, &thumbs, args.worst)?;
        std::fs::write(out.join("report.html"), report.to_html(&misses))?;
        eprintln!("wrote {}/report.{{md,json,csv,html}}", out.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// How a class's images fare at the threshold the detector judges its category by.
#[derive(serde::Serialize)]
struct OperatingPoint {
    class_name: String,
    threshold: acd_core::calibration::Threshold,
    false_positive_rate: Option<f64>,
    true_positive_rate: Option<f64>,
    normal: usize,
    anomalous: usize,
}

fn operating_points<B: Backend>(
    detector: &acd_core::Detector<B>,
    images: &[ImageResult],
    category: Option<&str>,
) -> Vec<OperatingPoint> {
    let mut by_class: std::collections::BTreeMap<&str, Vec<&ImageResult>> = Default::default();
    for r in images {
        by_class.entry(&r.class_name).or_default().push(r);
    }
    by_class
        .into_iter()
        .filter_map(|(class, items)| {
            let cat = category
                .map(str::to_string)
                .unwrap_or_else(|| acd_train::evaluation::category_text(class));
            let threshold = detector.threshold(&cat);
            // Only calibrated thresholds: the default 0.5 is no operating point anyone chose.
            threshold.calibrated.then(|| {
                let rate = |label: bool| {
                    let s: Vec<f32> = items
                        .iter()
                        .filter(|r| (r.label != 0) == label)
                        .map(|r| r.score)
                        .collect();
                    (!s.is_empty())
                        .then(|| acd_eval::calibration::rate_at_or_above(&s, threshold.image))
                };
                OperatingPoint {
                    class_name: class.to_string(),
                    false_positive_rate: rate(false),
                    true_positive_rate: rate(true),
                    normal: items.iter().filter(|r| r.label == 0).count(),
                    anomalous: items.iter().filter(|r| r.label != 0).count(),
                    threshold,
                }
            })
        })
        .collect()
}

fn operating_markdown(points: &[OperatingPoint]) -> String {
    let pct = |x: Option<f64>| {
        x.map(|v| format!("{:.2}%", v * 100.0))
            .unwrap_or("–".into())
    };
    let mut s = String::from(
        "At the calibrated threshold:\n\n| Class | Threshold | False-positive rate | True-positive rate | Calibration |\n|---|---:|---:|---:|---|\n",
    );
    for p in points {
        s.push_str(&format!(
            "| {} | {} | {} ({} normal) | {} ({} anomalous) | {} |\n",
            p.class_name,
            crate::calibrate::threshold_text(p.threshold.image),
            pct(p.false_positive_rate),
            p.normal,
            pct(p.true_positive_rate),
            p.anomalous,
            p.threshold.source
        ));
    }
    s
}

/// Labelled images from a dataset on disk or from the procedural textures (exactly one of them),
/// with their count.
pub fn test_images<'a>(
    dataset: Option<&'a acd_data::Dataset>,
    spec: Option<&'a acd_data::TextureDatasetSpec>,
    textures: &TextureArgs,
) -> anyhow::Result<(
    Box<dyn Iterator<Item = Result<EvalImage, TrainError>> + 'a>,
    usize,
)> {
    Ok(match (dataset, spec) {
        (Some(_), Some(_)) => bail!("give either --dataset or --textures, not both"),
        (Some(ds), None) => (Box::new(dataset_eval_set(ds)), ds.samples().len()),
        (None, Some(sp)) if textures.texture_product => (
            Box::new(acd_train::sources::product_eval_set(sp.clone())),
            sp.kinds.len() * (sp.normal_per_class + sp.anomalous_per_class),
        ),
        (None, Some(sp)) => (
            Box::new(texture_eval_set(sp)),
            sp.kinds.len() * (sp.normal_per_class + sp.anomalous_per_class),
        ),
        (None, None) => {
            bail!("no images: give --dataset DIR (or an index file) or --textures KINDS")
        }
    })
}

/// The progress bar of a run over `total` images.
pub fn progress_bar(total: usize) -> ProgressBar {
    let bar = ProgressBar::new(total as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "{bar:40} {pos}/{len} {msg} [{elapsed_precise} < {eta_precise}]",
        )
        .expect("valid template"),
    );
    bar
}

/// Anomalous images with the lowest scores and normal images with the highest.
fn worst_misses(images: &[ImageResult], thumbs: &[Thumb], k: usize) -> anyhow::Result<Vec<Miss>> {
    let mut idx: Vec<usize> = (0..images.len()).collect();
    let mut out = Vec::new();
    idx.sort_by(|&a, &b| images[a].score.total_cmp(&images[b].score));
    let low = idx.iter().filter(|&&i| images[i].label == 1).take(k);
    let high = idx.iter().rev().filter(|&&i| images[i].label == 0).take(k);
    for &i in low.chain(high) {
        let r = &images[i];
        let t = &thumbs[i];
        let mut png = Vec::new();
        image::RgbImage::from_raw(t.side as u32, t.side as u32, t.rgb.clone())
            .expect("size matches")
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)?;
        out.push(Miss {
            class_name: r.class_name.clone(),
            file: r.name.clone(),
            label: r.label,
            score: r.score,
            png,
        });
    }
    Ok(out)
}

//! `acd calibrate`: decision thresholds from data, written into a bundle's category entries.
//!
//! Per category (a dataset class, or every class as `--category`): the image threshold at a target
//! false-positive rate on its normal images (split-conformal, `acd_eval::calibration`), or at F1-max
//! on labelled images; the pixel threshold for the outline at the same false-positive rate on
//! the normal images' map maxima (the outline appears on at most that share of normal images),
//! or at pixel F1-max where every anomalous image has a mask. `acd detect --threshold auto` and
//! the page then judge by them and say where they came from.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use acd_core::calibration::{Calibration, CalibrationMethod};
use acd_core::prompts::Category;
use acd_core::weights::bundle::Manifest;
use acd_eval::calibration::{rate_at_or_above, threshold_at_fpr};
use acd_train::evaluation::{category_text, evaluate_as, ImageResult};
use anyhow::{bail, Context};
use burn::tensor::backend::Backend;

use crate::data_args::{DatasetArgs, TextureArgs};
use crate::model_source::{self, ModelArgs};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum MethodArg {
    /// The image threshold at --target-fpr on the normal images.
    TargetFpr,
    /// The image threshold at the maximum F1 on normal and anomalous images.
    F1Max,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub dataset: DatasetArgs,
    #[command(flatten)]
    pub textures: TextureArgs,
    /// Normal and anomalous images per texture class (with --textures).
    #[arg(long, default_value_t = 100)]
    pub per_class: usize,
    /// The calibrated bundle (a copy of --bundle with the thresholds in its manifest; the same
    /// folder as --bundle rewrites only its manifest.json).
    #[arg(long)]
    pub out: PathBuf,
    /// How the image threshold is chosen.
    #[arg(long, value_enum, default_value = "target-fpr")]
    pub method: MethodArg,
    /// The false-positive rate on normal images to calibrate at (and for the outline's threshold).
    #[arg(long, default_value_t = 0.01)]
    pub target_fpr: f64,
    /// Calibrate this category of the bundle from every class of the data (default: each class
    /// calibrates the category of its own name).
    #[arg(long)]
    pub category: Option<String>,
    /// Where the images came from, stored with the thresholds (default: the dataset's path or the
    /// texture settings).
    #[arg(long)]
    pub description: Option<String>,
    /// Where to run: flex (the CPU default), ndarray, wgpu, cuda.
    #[arg(long, value_enum, default_value = "flex")]
    pub backend: crate::backend::BackendKind,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let Some(bundle_dir) = args.model.bundle.clone() else {
        bail!("calibrate writes the thresholds into a bundle: give --bundle DIR (acd export makes one)");
    };
    if !(args.target_fpr > 0.0 && args.target_fpr < 1.0) {
        bail!("--target-fpr {} is not in (0, 1)", args.target_fpr);
    }
    let manifest = model_source::read_manifest(&bundle_dir)?;
    let source = model_source::source(&args.model)?;
    let calibrations = crate::with_backend!(args.backend, |B, device| calibrate::<B>(
        &args, &manifest, source, device
    ))?;
    let mut manifest = manifest;
    for (key, cal) in &calibrations {
        let entry = manifest
            .categories
            .iter_mut()
            .find(|c| &c.key == key)
            .expect("checked in calibrate");
        entry.calibration = Some(cal.clone());
    }
    write_calibrated(&bundle_dir, &args.out, &manifest)?;
    println!("| Category | Images (normal / anomalous) | Image threshold | Pixel threshold | FPR on these images | TPR on these images |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (key, c) in &calibrations {
        println!(
            "| {key} | {} / {} | {} | {} | {:.2}% | {} |",
            c.normal_images,
            c.anomalous_images,
            threshold_text(c.image_threshold),
            threshold_text(c.pixel_threshold),
            c.measured_fpr * 100.0,
            c.measured_tpr
                .map(|t| format!("{:.2}%", t * 100.0))
                .unwrap_or_else(|| "–".into())
        );
    }
    eprintln!(
        "wrote {} ({})",
        args.out.display(),
        calibrations
            .values()
            .next()
            .map(Calibration::describe)
            .unwrap_or_default()
    );
    Ok(ExitCode::SUCCESS)
}

fn calibrate<B: Backend>(
    args: &Args,
    manifest: &Manifest,
    source: model_source::Source,
    device: B::Device,
) -> anyhow::Result<BTreeMap<String, Calibration>> {
    let mut detector = model_source::detector::<B>(source, device)?;
    let dataset = args.dataset.open()?;
    let spec = args.textures.spec_if_set(args.per_class)?;
    // Every class's category must be in the bundle: refused before any image is read.
    let classes: Vec<String> = match (&dataset, &spec) {
        (Some(ds), _) => ds.classes(),
        (None, Some(sp)) => sp.kinds.iter().map(|k| k.name().to_string()).collect(),
        (None, None) => Vec::new(),
    };
    let category_of = |class: &str| -> String {
        Category::parse(
            &args
                .category
                .clone()
                .unwrap_or_else(|| category_text(class)),
        )
        .key()
    };
    for class in &classes {
        let key = category_of(class);
        if !manifest.categories.iter().any(|c| c.key == key) {
            bail!(
                "the bundle has no category {key:?} (class {class:?}); it has {}: give \
                 --category NAME to calibrate one of them from these images",
                manifest.category_list()
            );
        }
    }
    let description =
        args.description
            .clone()
            .unwrap_or_else(|| match (&args.dataset.dataset, &spec) {
                (Some(p), _) => p.display().to_string(),
                (None, Some(sp)) => {
                    format!("procedural textures, seed {}, {} px", sp.seed, sp.size)
                }
                _ => String::new(),
            });
    let (images, total) =
        crate::eval::test_images(dataset.as_ref(), spec.as_ref(), &args.textures)?;
    let bar = crate::eval::progress_bar(total);
    let run = evaluate_as(
        &mut detector,
        images,
        0.3,
        args.category.as_deref(),
        &mut |_, r| {
            bar.inc(1);
            bar.set_message(r.class_name.clone());
        },
    )?;
    bar.finish_and_clear();
    let mut groups: BTreeMap<String, Vec<&ImageResult>> = BTreeMap::new();
    for r in &run.images {
        groups
            .entry(category_of(&r.class_name))
            .or_default()
            .push(r);
    }
    let pixel_f1: BTreeMap<String, Option<f32>> = run
        .classes
        .iter()
        .map(|c| (category_of(&c.class_name), c.pixel_f1_threshold))
        .collect();
    let mut out = BTreeMap::new();
    for (key, items) in groups {
        let reference = detector.reference(&key).map(|r| r.info.clone());
        let with_reference = reference.is_some_and(|r| !r.domain_only);
        let cal = calibration_of(
            &key,
            &items,
            args,
            with_reference,
            // Pixel F1 needs one class's masks for the whole category.
            pixel_f1.get(&key).copied().flatten().filter(|_| {
                run.classes
                    .iter()
                    .filter(|c| category_of(&c.class_name) == key)
                    .count()
                    == 1
            }),
            &description,
        )?;
        out.insert(key, cal);
    }
    Ok(out)
}

fn calibration_of(
    key: &str,
    items: &[&ImageResult],
    args: &Args,
    with_reference: bool,
    pixel_f1_threshold: Option<f32>,
    description: &str,
) -> anyhow::Result<Calibration> {
    let normal: Vec<f32> = items
        .iter()
        .filter(|r| r.label == 0)
        .map(|r| r.score)
        .collect();
    let anomalous: Vec<f32> = items
        .iter()
        .filter(|r| r.label != 0)
        .map(|r| r.score)
        .collect();
    let normal_max: Vec<f32> = items
        .iter()
        .filter(|r| r.label == 0)
        .map(|r| r.pixel_max)
        .collect();
    let at_fpr = |scores: &[f32], what: &str| {
        threshold_at_fpr(scores, args.target_fpr)
            .map_err(|e| anyhow::anyhow!("category {key}: {what}: {e}"))
    };
    let (image_threshold, target_fpr, pixel_threshold) = match args.method {
        MethodArg::TargetFpr => (
            at_fpr(&normal, "image threshold")?,
            Some(args.target_fpr),
            at_fpr(&normal_max, "pixel threshold")?,
        ),
        MethodArg::F1Max => {
            let scores: Vec<f32> = items.iter().map(|r| r.score).collect();
            let labels: Vec<u8> = items.iter().map(|r| r.label).collect();
            let Some((_, t)) = acd_eval::f1_max(&scores, &labels) else {
                bail!("category {key}: F1-max needs anomalous images; there are none (use --method target-fpr)");
            };
            let pixel = match pixel_f1_threshold {
                Some(p) => p,
                None => at_fpr(&normal_max, "pixel threshold (no masks for pixel F1-max)")?,
            };
            (t, None, pixel)
        }
    };
    Ok(Calibration {
        image_threshold,
        pixel_threshold,
        method: match args.method {
            MethodArg::TargetFpr => CalibrationMethod::TargetFpr,
            MethodArg::F1Max => CalibrationMethod::F1Max,
        },
        target_fpr,
        normal_images: normal.len(),
        anomalous_images: anomalous.len(),
        measured_fpr: rate_at_or_above(&normal, image_threshold),
        measured_tpr: (!anomalous.is_empty())
            .then(|| rate_at_or_above(&anomalous, image_threshold)),
        with_reference,
        description: description.to_string(),
    })
}

/// Writes the calibrated bundle: a copy of every file with the new manifest, or, when `out` is the
/// bundle itself, only the manifest (written beside it and renamed, so a failure leaves the old one).
fn write_calibrated(bundle: &Path, out: &Path, manifest: &Manifest) -> anyhow::Result<()> {
    let json = serde_json::to_string_pretty(manifest)?;
    let same = match (bundle.canonicalize(), out.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if !same {
        std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
        for f in &manifest.files {
            std::fs::copy(bundle.join(&f.file), out.join(&f.file))
                .with_context(|| format!("copying {}", f.file))?;
        }
    }
    let tmp = out.join("manifest.json.tmp");
    std::fs::write(&tmp, json).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, out.join("manifest.json"))
        .with_context(|| format!("writing {}", out.join("manifest.json").display()))?;
    Ok(())
}

/// A threshold for a table: 4 decimals, or 3 significant digits below 0.001 (a map whose maxima
/// are all near zero has a pixel threshold like 6.6e-7, which 4 decimals would show as 0).
pub(crate) fn threshold_text(t: f32) -> String {
    if t != 0.0 && t.abs() < 1e-3 {
        format!("{t:.2e}")
    } else {
        format!("{t:.4}")
    }
}

#[cfg(test)]
mod tests {
    use super::threshold_text;

    #[test]
    fn small_thresholds_keep_their_digits() {
        assert_eq!(threshold_text(0.456_209_8), "0.4562");
        assert_eq!(threshold_text(6.583e-7), "6.58e-7");
        assert_eq!(threshold_text(0.0), "0.0000");
    }
}

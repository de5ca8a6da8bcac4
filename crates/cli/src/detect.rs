//! `acd detect IMAGE_OR_DIR... --category NAME`: per image an overlay PNG, the raw map (`.npy`)
//! and one JSON line on stdout; a bad image is reported and skipped (exit status 1 at the end).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use acd_core::Detector;
use anyhow::{bail, Context};
use burn::tensor::backend::Backend;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use crate::backend::BackendKind;
use crate::model_source::{self, ModelArgs};
use crate::output::{overlay, write_npy_f32, write_png_rgb};

const IMAGE_EXTENSIONS: &[&str] = &["png", "jpg", "jpeg", "bmp", "gif", "webp", "tif", "tiff"];

#[derive(clap::Args)]
pub struct Args {
    /// Image files and/or folders (searched for image files, not recursively).
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    #[command(flatten)]
    pub model: ModelArgs,
    /// A dataset class name (e.g. bottle, pcb1), `object`, or any free text describing the object.
    #[arg(long)]
    pub category: String,
    /// Output folder (created if needed); inputs are never overwritten.
    #[arg(long, default_value = "acd-out")]
    pub out: PathBuf,
    /// Score at or above which an image is called anomalous (adds `verdict` and `threshold` to the
    /// JSON): a number, or `auto` for the category's calibrated threshold in the bundle
    /// (`acd calibrate`), else the default 0.5 marked as not calibrated.
    #[arg(long, value_parser = parse_threshold)]
    pub threshold: Option<ThresholdArg>,
    /// Overlay opacity of the map.
    #[arg(long, default_value_t = 0.5)]
    pub alpha: f32,
    /// Where to run: flex (the CPU default: gemm matmul, all cores), ndarray (CPU), wgpu, cuda.
    #[arg(long, value_enum, default_value = "flex")]
    pub backend: BackendKind,
    /// Largest image file accepted (bytes); larger files are reported and skipped.
    #[arg(long, default_value_t = acd_core::preprocess::DEFAULT_MAX_IMAGE_BYTES)]
    pub max_image_bytes: usize,
    /// Largest image accepted (width × height, checked from the header before decoding).
    #[arg(long, default_value_t = acd_core::preprocess::DEFAULT_MAX_IMAGE_PIXELS)]
    pub max_image_pixels: u64,
    /// Few-shot mode: normal images of this category (a folder or files; repeat the option for
    /// more). Their patch features become a normal-reference memory that the maps and scores use
    /// (replacing the bundle's own memory for this category), and images far outside it are called
    /// outside what the model knows.
    #[arg(long)]
    pub reference: Vec<PathBuf>,
    /// Patches kept per visual group in the memory (a seeded greedy coreset above it).
    #[arg(long, default_value_t = acd_core::reference::DEFAULT_MAX_PATCHES)]
    pub coreset: usize,
    /// Seed of the memory's coreset and of its normal-limit estimate.
    #[arg(long, default_value_t = 0)]
    pub reference_seed: u64,
    /// Which patch features the memory keeps: patch-embedding, group-tokens or both.
    #[arg(long, default_value = "patch-embedding", value_parser = parse_features)]
    pub reference_features: acd_core::reference::ReferenceFeatures,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ThresholdArg {
    Auto,
    Given(f32),
}

fn parse_threshold(s: &str) -> Result<ThresholdArg, String> {
    if s == "auto" {
        return Ok(ThresholdArg::Auto);
    }
    match s.parse::<f32>() {
        Ok(t) if t.is_finite() => Ok(ThresholdArg::Given(t)),
        _ => Err(format!("{s:?}: give a number or auto")),
    }
}

pub fn parse_features(s: &str) -> Result<acd_core::reference::ReferenceFeatures, String> {
    acd_core::reference::ReferenceFeatures::parse(s)
        .ok_or_else(|| format!("{s:?}: use patch-embedding, group-tokens or both"))
}

/// Decodes every reference image (a bad one stops the run before any image is analysed).
pub fn read_references(
    inputs: &[PathBuf],
    limits: &acd_core::preprocess::DecodeLimits,
) -> anyhow::Result<Vec<acd_core::preprocess::RgbImage>> {
    let files = collect_images(inputs)?;
    files
        .iter()
        .map(|p| {
            let bytes =
                std::fs::read(p).with_context(|| format!("reading reference {}", p.display()))?;
            acd_core::preprocess::decode_image(&bytes, limits)
                .with_context(|| format!("reference image {}", p.display()))
        })
        .collect()
}

fn collect_images(inputs: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in inputs {
        if p.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(p)
                .with_context(|| format!("listing {}", p.display()))?
                .flatten()
                .map(|e| e.path())
                .filter(|f| {
                    f.is_file()
                        && f.extension()
                            .and_then(|e| e.to_str())
                            .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_lowercase().as_str()))
                })
                .collect();
            files.sort();
            out.extend(files);
        } else {
            out.push(p.clone());
        }
    }
    if out.is_empty() {
        bail!("no image files found in {:?}", inputs);
    }
    Ok(out)
}

/// Output stem per image, unique within the run (`name`, `name-2`, …), and never one whose
/// outputs in `out` would be one of the inputs (`a.png` next to an input `a.overlay.png`).
fn unique_stems(images: &[PathBuf], out: &Path) -> Vec<String> {
    let inputs: HashSet<PathBuf> = images
        .iter()
        .filter_map(|p| p.canonicalize().ok())
        .collect();
    let out = out.canonicalize().unwrap_or_else(|_| out.to_path_buf());
    let is_input = |stem: &str| {
        [".overlay.png", ".map.npy"]
            .iter()
            .any(|ext| inputs.contains(&out.join(format!("{stem}{ext}"))))
    };
    let mut seen = HashSet::new();
    images
        .iter()
        .map(|p| {
            let base = p
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "image".into());
            let mut stem = base.clone();
            let mut k = 2;
            while is_input(&stem) || !seen.insert(stem.clone()) {
                stem = format!("{base}-{k}");
                k += 1;
            }
            stem
        })
        .collect()
}

fn now_ms() -> f64 {
    thread_local!(static START: Instant = Instant::now());
    START.with(|s| s.elapsed().as_secs_f64() * 1000.0)
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let images = collect_images(&args.inputs)?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let source = model_source::source(&args.model)?;
    crate::with_backend!(args.backend, |B, device| run_with::<B>(
        &args, &images, source, device
    ))
}

fn run_with<B: Backend>(
    args: &Args,
    images: &[PathBuf],
    source: model_source::Source,
    device: B::Device,
) -> anyhow::Result<ExitCode> {
    let t = Instant::now();
    let mut detector = model_source::detector::<B>(source, device)?.with_clock(now_ms);
    detector.limits = acd_core::preprocess::DecodeLimits {
        max_bytes: args.max_image_bytes,
        max_pixels: args.max_image_pixels,
    };
    let load_ms = t.elapsed().as_secs_f64() * 1000.0;
    eprintln!("model loaded in {load_ms:.0} ms");
    // A category the model cannot embed fails once, before any image is read (not once per image).
    if let Err(e) = detector.text_embedding(&args.category) {
        let known = detector.known_categories();
        if known.is_empty() {
            bail!("{e}");
        }
        bail!("{e}; this model's categories: {}", known.join(", "));
    }
    if !args.reference.is_empty() {
        let t = Instant::now();
        let refs = read_references(&args.reference, &detector.limits)?;
        let options = acd_core::reference::BuildOptions {
            max_patches: args.coreset,
            seed: args.reference_seed,
            features: args.reference_features,
        };
        let memory = detector.build_reference(&refs, &options)?;
        let info = detector.set_reference(
            &args.category,
            memory,
            acd_core::reference::ReferenceSource::User,
        )?;
        eprintln!(
            "reference memory: {} normal images, {:?} patches per group, built in {:.0} ms",
            info.images,
            info.patches,
            t.elapsed().as_secs_f64() * 1000.0
        );
    }
    let bar = if images.len() > 1 {
        let bar = ProgressBar::new(images.len() as u64);
        bar.set_style(
            ProgressStyle::with_template(
                "{bar:40} {pos}/{len} {msg} [{elapsed_precise} < {eta_precise}]",
            )
            .expect("valid template"),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let stems = unique_stems(images, &args.out);
    let mut failures = 0;
    for (path, stem) in images.iter().zip(&stems) {
        bar.set_message(
            path.file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default(),
        );
        match detect_one(&mut detector, args, path, stem) {
            Ok(line) => bar.suspend(|| println!("{line}")),
            Err(e) => {
                failures += 1;
                let line = json!({"image": path.display().to_string(), "error": format!("{e:#}")});
                bar.suspend(|| println!("{line}"));
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    if failures > 0 {
        eprintln!("{failures} of {} images failed", images.len());
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

fn detect_one<B: Backend>(
    detector: &mut Detector<B>,
    args: &Args,
    path: &Path,
    stem: &str,
) -> anyhow::Result<serde_json::Value> {
    // The size is checked before reading, so that a huge file is not read into memory.
    let size = std::fs::metadata(path)
        .with_context(|| format!("reading {}", path.display()))?
        .len();
    if size > detector.limits.max_bytes as u64 {
        return Err(acd_core::preprocess::ImageError::TooManyBytes {
            size: size.try_into().unwrap_or(usize::MAX),
            limit: detector.limits.max_bytes,
        }
        .into());
    }
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let t0 = now_ms();
    let original = acd_core::preprocess::decode_image(&bytes, &detector.limits)?;
    let decode_ms = now_ms() - t0;
    let mut det = detector.detect_image(&original, &args.category)?;
    det.timings.decode_ms += decode_ms;
    let overlay_path = args.out.join(format!("{stem}.overlay.png"));
    let map_path = args.out.join(format!("{stem}.map.npy"));
    for out in [&overlay_path, &map_path] {
        if same_file(out, path) {
            bail!("refusing to overwrite the input {}", path.display());
        }
    }
    let t_write = now_ms();
    write_png_rgb(
        &overlay_path,
        &overlay(&original.pixels, &det.image_map, args.alpha),
        det.width,
        det.height,
    )?;
    write_npy_f32(&map_path, &det.image_map, det.height, det.width)?;
    // The outputs at the image's own size: on a photo of many megapixels this is a large part of
    // the time per image, so it is reported beside the model's timings.
    let write_ms = now_ms() - t_write;
    let mut line = json!({
        "image": path.display().to_string(),
        "category": args.category,
        "score": det.score,
        "p_cls": det.p_cls,
        "map_max": det.map.iter().copied().fold(f32::MIN, f32::max),
        "width": det.width,
        "height": det.height,
        "overlay": overlay_path.display().to_string(),
        "map": map_path.display().to_string(),
        "timings_ms": det.timings,
    });
    line["timings_ms"]["write_ms"] = json!(write_ms);
    if let Some(r) = &det.reference {
        line["reference"] = json!(r);
    }
    let outside = det.domain.is_some_and(|d| d.outside);
    if let Some(d) = &det.domain {
        line["domain"] = json!(d);
    }
    if outside {
        line["note"] = json!(format!(
            "outside what this model knows for {}",
            args.category
        ));
    }
    if let Some(arg) = args.threshold {
        let t = match arg {
            ThresholdArg::Auto => det.threshold.clone(),
            ThresholdArg::Given(t) => acd_core::calibration::Threshold {
                image: t,
                pixel: t,
                calibrated: false,
                source: "given on the command line".into(),
            },
        };
        line["threshold"] = json!(t);
        let t = t.image;
        line["verdict"] = json!(if outside {
            "outside"
        } else if det.score >= t {
            "anomalous"
        } else {
            "normal"
        });
    }
    Ok(line)
}

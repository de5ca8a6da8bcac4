//! `acd export`: writes a model bundle (docs/architecture.md §3.2) that `acd detect --bundle` and
//! the page load.

use std::path::PathBuf;
use std::process::ExitCode;

use acd_core::clip::tokenizer::ClipTokenizer;
use acd_core::config::presets;
use acd_core::model::AcdClip;
use acd_core::prompts::{
    dataset_classes, embed_category, prompt_tokens_for_name, Category, OBJECT,
};
use acd_core::weights::bundle::{
    export_bundle, CategoryEntry, ExportOptions, DEFAULT_MAX_SHARD_BYTES,
};
use acd_core::weights::load::{load_acd_clip, load_clip_only};
use acd_core::weights::quantize::Precision;
use acd_core::Head;
use anyhow::{bail, Context};
use burn::tensor::backend::Backend;

use crate::backend::Cpu;
use crate::model_source::{self, ModelArgs};

#[derive(clap::Args)]
pub struct Args {
    /// Output folder (created); holds manifest.json, weight shards and text.safetensors.
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Export a randomly initialised model of the `tiny` preset with this seed (for tests; labelled untrained).
    #[arg(long, conflicts_with_all = ["clip", "adapters", "fixture", "bundle"])]
    pub random_tiny: Option<u64>,
    /// Export a randomly initialised model of this preset at --image-size, N = 4 (seed 0; for timing
    /// the page, e.g. ViT-B/16 at 224; labelled untrained).
    #[arg(long, value_enum, conflicts_with_all = ["clip", "adapters", "fixture", "bundle", "random_tiny"])]
    pub random_preset: Option<crate::bench::Preset>,
    /// int8 (per-output-channel, f32 scales) for large matrices and f16 for the rest; or f16; or f32.
    #[arg(long, default_value = "int8")]
    pub precision: Precision,
    /// Categories: the classes of this dataset plus `object` (MVTec, VisA, MPDD, BTAD, RSDD, Medical).
    #[arg(long, default_value = "MVTec")]
    pub dataset: String,
    /// Explicit categories instead (class names or free text), comma separated.
    #[arg(long, value_delimiter = ',')]
    pub categories: Option<Vec<String>>,
    /// Include the text tower so that the page accepts free-text categories.
    #[arg(long)]
    pub with_text_tower: bool,
    #[arg(long)]
    pub name: Option<String>,
    #[arg(long, default_value = "")]
    pub description: String,
    /// What the adapters were trained on (shown on the model card).
    #[arg(long)]
    pub trained_on: Option<String>,
    /// Mark the weights as untrained (implied for --random-tiny and fixtures, whose weights are random).
    #[arg(long)]
    pub untrained: bool,
    #[arg(long, default_value_t = DEFAULT_MAX_SHARD_BYTES >> 20)]
    pub max_shard_mib: usize,
    /// Store a normal-reference memory for a category: a folder (or file) of normal images, paired in
    /// order with a --category. With --bundle IN, adds memories to a copy of that bundle.
    #[arg(long)]
    pub reference: Vec<PathBuf>,
    /// The category of each --reference (one per --reference, in the same order).
    #[arg(long = "category")]
    pub reference_category: Vec<String>,
    /// Where the reference images came from, stored in the manifest (default: their count and
    /// folder); one for all references, or one per --reference in order.
    #[arg(long)]
    pub reference_note: Vec<String>,
    /// Patches kept per visual group in each memory (a seeded greedy coreset above it).
    #[arg(long, default_value_t = acd_core::reference::DEFAULT_MAX_PATCHES)]
    pub coreset: usize,
    /// Seed of the memories' coreset and normal-limit estimate.
    #[arg(long, default_value_t = 0)]
    pub reference_seed: u64,
    /// Store the memories for the out-of-domain check only (maps and scores stay zero-shot): for
    /// categories whose images vary more than one product's, e.g. a trained model's training data.
    #[arg(long)]
    pub reference_domain_only: bool,
    /// Which patch features the memories keep: patch-embedding, group-tokens or both.
    #[arg(long, default_value = "patch-embedding", value_parser = crate::detect::parse_features)]
    pub reference_features: acd_core::reference::ReferenceFeatures,
}

fn categories(args: &Args) -> anyhow::Result<Vec<CategoryEntry>> {
    let keys: Vec<String> = match &args.categories {
        Some(list) => list
            .iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
        None => {
            let Some(classes) = dataset_classes(&args.dataset) else {
                bail!("unknown dataset {:?}", args.dataset)
            };
            classes
                .iter()
                .map(|(c, _)| c.to_string())
                .chain([OBJECT.to_string()])
                .collect()
        }
    };
    Ok(keys
        .iter()
        .map(|k| {
            let c = Category::parse(k);
            CategoryEntry {
                key: c.key(),
                real_name: c.real_name().to_string(),
                reference: None,
                calibration: None,
            }
        })
        .collect())
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.reference.len() != args.reference_category.len() {
        bail!(
            "{} --reference but {} --category: give one category per reference folder",
            args.reference.len(),
            args.reference_category.len()
        );
    }
    let (manifest, files) = if let Some(dir) = &args.model.bundle {
        if args.reference.is_empty() {
            bail!("export reads CLIP weights + adapters (or a fixture); from a bundle it only adds --reference memories");
        }
        let (manifest, mut files) = model_source::read_bundle(dir)?;
        let names: Vec<String> = manifest.files.iter().map(|f| f.file.clone()).collect();
        let files = names
            .into_iter()
            .map(|n| {
                let bytes = files
                    .remove(&n)
                    .with_context(|| format!("bundle file {n} is missing"))?;
                Ok((n, bytes))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        (manifest, files)
    } else {
        build_bundle(&args)?
    };
    let (manifest, files) = add_references(&args, manifest, files)?;
    write_bundle(&args, &manifest, &files)
}

/// Builds each `--reference` memory with the bundle's own (quantised) weights, exactly as they
/// run at inference, and adds it to the manifest.
fn add_references(
    args: &Args,
    mut manifest: acd_core::weights::bundle::Manifest,
    mut files: Vec<(String, Vec<u8>)>,
) -> anyhow::Result<(acd_core::weights::bundle::Manifest, Vec<(String, Vec<u8>)>)> {
    if args.reference.is_empty() {
        return Ok((manifest, files));
    }
    type B = Cpu;
    let device = Default::default();
    let map: std::collections::HashMap<String, Vec<u8>> = files.iter().cloned().collect();
    let bundle = acd_core::weights::bundle::load_bundle::<B>(&manifest, &map, &device)?;
    drop(map);
    let mut detector = acd_core::Detector::from_bundle(bundle, device);
    if args.reference_note.len() > 1 && args.reference_note.len() != args.reference.len() {
        bail!(
            "{} --reference-note for {} --reference: give one note, or one per reference",
            args.reference_note.len(),
            args.reference.len()
        );
    }
    for (i, (dir, category)) in args
        .reference
        .iter()
        .zip(&args.reference_category)
        .enumerate()
    {
        let key = Category::parse(category).key();
        let refs = crate::detect::read_references(std::slice::from_ref(dir), &detector.limits)?;
        let options = acd_core::reference::BuildOptions {
            max_patches: args.coreset,
            seed: args.reference_seed,
            features: args.reference_features,
        };
        let memory = detector
            .build_reference(&refs, &options)
            .with_context(|| format!("building the memory of {key} from {}", dir.display()))?;
        let note = args
            .reference_note
            .get(i)
            .or(args.reference_note.first())
            .cloned()
            .unwrap_or_else(|| format!("{} normal images from {}", refs.len(), dir.display()));
        let (file, bytes) = acd_core::weights::bundle::add_reference(
            &mut manifest,
            &key,
            &memory,
            &note,
            args.reference_domain_only,
        )?;
        eprintln!(
            "reference memory of {key}: {} images, {:?} patches per group, {:.1} kB",
            memory.images,
            memory.patches(),
            bytes.len() as f64 / 1e3
        );
        files.retain(|(n, _)| n != &file);
        files.push((file, bytes));
    }
    Ok((manifest, files))
}

fn write_bundle(
    args: &Args,
    manifest: &acd_core::weights::bundle::Manifest,
    files: &[(String, Vec<u8>)],
) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let mut total = 0;
    for (name, bytes) in files {
        std::fs::write(args.out.join(name), bytes).with_context(|| format!("writing {name}"))?;
        total += bytes.len();
    }
    std::fs::write(
        args.out.join("manifest.json"),
        serde_json::to_string_pretty(manifest)?,
    )?;
    eprintln!(
        "wrote {} ({} files, {:.2} MB, {:?}, {} categories{})",
        args.out.display(),
        files.len(),
        total as f64 / 1e6,
        manifest.precision,
        manifest.categories.len(),
        if manifest.has_text_tower {
            ", with text tower"
        } else {
            ""
        }
    );
    Ok(ExitCode::SUCCESS)
}

/// The model and its category embeddings as a new bundle (manifest + files).
fn build_bundle(
    args: &Args,
) -> anyhow::Result<(acd_core::weights::bundle::Manifest, Vec<(String, Vec<u8>)>)> {
    type B = Cpu;
    let device = Default::default();
    let mut head = Head::AcdClip;
    let (model, cfg, random) = if let Some(seed) = args.random_tiny {
        B::seed(&device, seed);
        let cfg = presets::tiny(args.model.image_size);
        (AcdClip::<B>::new(&cfg, &device), cfg, true)
    } else if let Some(preset) = args.random_preset {
        B::seed(&device, 0);
        let cfg = crate::bench::config(preset, Some(args.model.image_size), 4);
        cfg.validate()?;
        (AcdClip::<B>::new(&cfg, &device), cfg, true)
    } else {
        let (cfg, mut store) = model_source::load(&args.model)?;
        if args.model.training_free {
            head = Head::TrainingFree;
            (
                load_clip_only::<B>(&mut store, &cfg, true, &device)?,
                cfg,
                false,
            )
        } else {
            (
                load_acd_clip::<B>(&mut store, &cfg, true, &device)?,
                cfg,
                args.model.fixture.is_some(),
            )
        }
    };
    let tokenizer = ClipTokenizer::new();
    let mut cats = Vec::new();
    for entry in categories(&args)? {
        let prompts = prompt_tokens_for_name(&tokenizer, &entry.real_name)?;
        let emb = embed_category(&model, &cfg, head, &prompts, &device)
            .with_context(|| format!("embedding category {:?}", entry.key))?;
        cats.push((entry, emb));
    }
    let options = ExportOptions {
        name: args.name.clone().unwrap_or_else(|| {
            args.out
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_else(|| "model".into())
        }),
        description: args.description.clone(),
        trained_on: args.trained_on.clone(),
        untrained: args.untrained || random,
        precision: args.precision,
        with_text_tower: args.with_text_tower,
        max_shard_bytes: args.max_shard_mib.max(1) << 20,
        head,
    };
    Ok(export_bundle(&model, &cfg, &cats, &options)?)
}

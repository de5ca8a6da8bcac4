//! `acd export`: writes a model bundle (DESIGN §3.2) that `acd detect --bundle` and the page load.

use std::path::PathBuf;
use std::process::ExitCode;

use acd_core::clip::tokenizer::{ClipTokenizer, CONTEXT_LENGTH};
use acd_core::config::presets;
use acd_core::model::{AcdClip, TokenBatch};
use acd_core::prompts::{dataset_classes, sentences, Category, OBJECT};
use acd_core::trace::Trace;
use acd_core::weights::bundle::{
    export_bundle, CategoryEntry, ExportOptions, DEFAULT_MAX_SHARD_BYTES,
};
use acd_core::weights::load::load_acd_clip;
use acd_core::weights::quantize::Precision;
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
            }
        })
        .collect())
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    type B = Cpu;
    let device = Default::default();
    let mut training_free = false;
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
        if args.model.bundle.is_some() {
            bail!("export reads CLIP weights + adapters (or a fixture), not another bundle");
        }
        let (cfg, mut store) = model_source::load(&args.model)?;
        if args.model.training_free {
            training_free = true;
            (
                model_source::clip_only_model::<B>(&mut store, &cfg, &device)?,
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
        let (n, a) = sentences(&entry.real_name);
        let rows = |s: &[String]| {
            s.iter()
                .map(|t| tokenizer.tokenize(t, CONTEXT_LENGTH))
                .collect::<Result<Vec<_>, _>>()
        };
        let (normal, abnormal) = (TokenBatch::new(&rows(&n)?), TokenBatch::new(&rows(&a)?));
        let emb = if training_free {
            let text = model
                .text
                .as_ref()
                .context("the CLIP weights have no text tower")?;
            acd_core::training_free::class_embedding(text, &normal, &abnormal, &device)
                .unsqueeze::<3>()
        } else {
            model
                .class_embedding(&cfg, &normal, &abnormal, &device, &mut Trace::off())
                .with_context(|| format!("embedding category {:?}", entry.key))?
        };
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
        training_free,
    };
    let (manifest, files) = export_bundle(&model, &cfg, &cats, &options);
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let mut total = 0;
    for (name, bytes) in &files {
        std::fs::write(args.out.join(name), bytes).with_context(|| format!("writing {name}"))?;
        total += bytes.len();
    }
    std::fs::write(
        args.out.join("manifest.json"),
        serde_json::to_string_pretty(&manifest)?,
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

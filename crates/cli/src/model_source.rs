//! Where the model comes from: CLIP weights + an adapter checkpoint, or a fixture folder.

use std::path::{Path, PathBuf};

use acd_fixture::official::{read_fixture, FixtureConfig};
use std::collections::HashMap;

use acd_core::weights::bundle::{
    load_bundle_checked, parse_manifest, BundleFiles, FileCheck, Manifest,
};
use acd_core::weights::checkpoint::read_checkpoint_meta;
use acd_core::weights::infer::{infer_adapter_config, infer_clip_config};
use acd_core::weights::load::{load_acd_clip, load_clip_only};
use acd_core::weights::remap::CLIP_HEADS;
use acd_core::weights::TensorStore;
use acd_core::Detector;
use acd_core::{AcdClipConfig, Activation, Domain, Head};
use anyhow::{bail, Context};
use burn::tensor::backend::Backend;
use clap::ValueEnum;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ActivationArg {
    /// erf GELU: what the official ACD-CLIP code runs (and so its trained adapters expect).
    Gelu,
    /// QuickGELU: OpenAI CLIP's own activation.
    QuickGelu,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum DomainArg {
    Industrial,
    Medical,
}

#[derive(clap::Args, Debug)]
pub struct ModelArgs {
    /// CLIP weights: open_clip state dict (.safetensors/.bin/.pt/.pth), HF CLIPModel safetensors, or OpenAI ViT-*.pt.
    #[arg(long)]
    pub clip: Option<PathBuf>,
    /// ACD-CLIP adapter checkpoint (official adapter_<epoch>.pth or a safetensors file with the same keys).
    #[arg(long)]
    pub adapters: Option<PathBuf>,
    /// A checkpoint written by `acd train` (config included; add --clip when it holds adapters only).
    #[arg(long, conflicts_with = "adapters")]
    pub checkpoint: Option<PathBuf>,
    /// Zero-shot with the CLIP weights alone (no adapters): WinCLIP-style prompt ensembles over
    /// patch tokens, a baseline for users without an ACD-CLIP checkpoint.
    #[arg(long, requires = "clip", conflicts_with_all = ["adapters", "checkpoint"])]
    pub training_free: bool,
    /// Use the model of an official-format fixture folder instead (for testing).
    #[arg(long, conflicts_with_all = ["clip", "adapters", "checkpoint"])]
    pub fixture: Option<PathBuf>,
    /// Use a model bundle written by `acd export` (manifest.json + shards).
    #[arg(long, conflicts_with_all = ["clip", "adapters", "fixture", "checkpoint"])]
    pub bundle: Option<PathBuf>,
    /// Model input size S (the paper: 518).
    #[arg(long, default_value_t = 518)]
    pub image_size: usize,
    #[arg(long, value_enum, default_value = "gelu")]
    pub activation: ActivationArg,
    /// Attention head width (OpenAI CLIP: 64) used to derive the head count from the weights.
    #[arg(long, default_value_t = 64)]
    pub head_width: usize,
    /// Override the vision tower's head count (when its heads are not `head_width` wide).
    #[arg(long)]
    pub vision_heads: Option<usize>,
    /// Override the text tower's head count.
    #[arg(long)]
    pub text_heads: Option<usize>,
    #[arg(long, value_enum, default_value = "industrial")]
    pub domain: DomainArg,
}

fn read_store(path: &Path) -> anyhow::Result<TensorStore> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    TensorStore::from_bytes(&bytes)
        .with_context(|| format!("loading weights from {}", path.display()))
}

/// A model to build: weights by name with a config, or a verified bundle.
pub enum Source {
    Weights(AcdClipConfig, TensorStore),
    /// CLIP weights only, for the training-free mode.
    TrainingFree(AcdClipConfig, TensorStore),
    Bundle(Manifest, BundleDir),
}

/// A bundle folder as the loader's file source: each file is read from disk when the loader asks
/// for it and dropped after it is decoded, so the load never holds the whole bundle's bytes next
/// to the decoded weights. A file that cannot be read is reported missing, by name.
pub struct BundleDir(PathBuf);

impl BundleFiles for BundleDir {
    fn size(&self, file: &str) -> Option<u64> {
        let meta = std::fs::metadata(self.0.join(file)).ok()?;
        meta.is_file().then(|| meta.len())
    }

    fn read<R>(&mut self, file: &str, read: impl FnOnce(&[u8]) -> R) -> Option<R> {
        std::fs::read(self.0.join(file))
            .ok()
            .map(|bytes| read(&bytes))
    }
}

/// A bundle folder's manifest, validated.
pub fn read_manifest(dir: &Path) -> anyhow::Result<Manifest> {
    let json = std::fs::read_to_string(dir.join("manifest.json"))
        .with_context(|| format!("reading {}", dir.join("manifest.json").display()))?;
    parse_manifest(&json).with_context(|| format!("{}", dir.display()))
}

/// Reads a bundle folder: the manifest and every file it lists (missing files are reported by the loader).
pub fn read_bundle(dir: &Path) -> anyhow::Result<(Manifest, HashMap<String, Vec<u8>>)> {
    let manifest = read_manifest(dir)?;
    let mut files = HashMap::new();
    for entry in &manifest.files {
        if let Ok(bytes) = std::fs::read(dir.join(&entry.file)) {
            files.insert(entry.file.clone(), bytes);
        }
    }
    Ok((manifest, files))
}

pub fn source(args: &ModelArgs) -> anyhow::Result<Source> {
    if let Some(dir) = &args.bundle {
        let manifest = read_manifest(dir)?;
        return Ok(Source::Bundle(manifest, BundleDir(dir.clone())));
    }
    let (cfg, store) = load(args)?;
    if args.training_free {
        return Ok(Source::TrainingFree(cfg, store));
    }
    Ok(Source::Weights(cfg, store))
}

/// Builds the detector on backend `B`.
pub fn detector<B: Backend>(source: Source, device: B::Device) -> anyhow::Result<Detector<B>> {
    Ok(match source {
        Source::Weights(cfg, mut store) => {
            let model = load_acd_clip::<B>(&mut store, &cfg, true, &device)?;
            Detector::new(model, cfg, device)
        }
        Source::TrainingFree(cfg, mut store) => {
            let model = load_clip_only::<B>(&mut store, &cfg, true, &device)?;
            Detector::with_head(model, cfg, Head::TrainingFree, device)
        }
        Source::Bundle(manifest, files) => {
            let bundle = load_bundle_checked::<B>(&manifest, files, &device, FileCheck::Sha256)?;
            Detector::from_bundle(bundle, device)
        }
    })
}

pub fn load(args: &ModelArgs) -> anyhow::Result<(AcdClipConfig, TensorStore)> {
    if let Some(dir) = &args.fixture {
        let files = read_fixture(dir)?;
        let store = TensorStore::from_safetensors(&files.weights)?.finish();
        let fc = FixtureConfig::parse(&files.config_json, &store)?;
        if !fc.has_adapters {
            bail!(
                "{}: the fixture's weights hold no adapter keys",
                dir.display()
            );
        }
        return Ok((fc.model, store));
    }
    if let Some(ckpt) = &args.checkpoint {
        return load_checkpoint_file(ckpt, args.clip.as_deref());
    }
    if args.training_free {
        let clip = args
            .clip
            .as_ref()
            .expect("clap: --training-free requires --clip");
        let store = read_store(clip)?.finish();
        for key in CLIP_HEADS {
            if !store.contains_key(*key) {
                bail!(
                    "{}: `{key}` is missing: the training-free mode needs CLIP's projection heads",
                    clip.display()
                );
            }
        }
        let cfg = AcdClipConfig {
            clip: clip_config(&store, args)?,
            // No adapters run; one group keeps the config valid for any depth.
            adapter: acd_core::AdapterConfig {
                n_groups: 1,
                ..Default::default()
            },
            domain: domain(args),
            map_size: args.image_size,
        };
        cfg.validate()?;
        return Ok((cfg, store));
    }
    let (Some(clip), Some(adapters)) = (&args.clip, &args.adapters) else {
        bail!("give --clip WEIGHTS --adapters CHECKPOINT, --checkpoint FILE, --clip WEIGHTS --training-free, or --fixture DIR");
    };
    let mut store = read_store(clip)?;
    let mut adapter_store = read_store(adapters)?;
    if !adapter_store
        .keys()
        .any(|n| n.starts_with("image_adapter."))
    {
        bail!(
            "{}: no `image_adapter.*` keys: not an ACD-CLIP adapter checkpoint",
            adapters.display()
        );
    }
    store.append(&mut adapter_store);
    let store = store.finish();
    let adapter = infer_adapter_config(&store)?;
    let cfg = AcdClipConfig {
        clip: clip_config(&store, args)?,
        adapter,
        domain: domain(args),
        map_size: args.image_size,
    };
    cfg.validate()?;
    Ok((cfg, store))
}

fn domain(args: &ModelArgs) -> Domain {
    match args.domain {
        DomainArg::Industrial => Domain::Industrial,
        DomainArg::Medical => Domain::Medical,
    }
}

fn clip_config(store: &TensorStore, args: &ModelArgs) -> anyhow::Result<acd_core::ClipConfig> {
    let activation = match args.activation {
        ActivationArg::Gelu => Activation::Gelu,
        ActivationArg::QuickGelu => Activation::QuickGelu,
    };
    let mut clip_cfg = infer_clip_config(store, args.image_size, activation, args.head_width)?;
    clip_cfg.vision.heads = args.vision_heads.unwrap_or(clip_cfg.vision.heads);
    clip_cfg.text.heads = args.text_heads.unwrap_or(clip_cfg.text.heads);
    Ok(clip_cfg)
}

/// An `acd train` checkpoint: its metadata carries the config; CLIP weights come from `clip`
/// when the checkpoint holds adapters only.
fn load_checkpoint_file(
    path: &Path,
    clip: Option<&Path>,
) -> anyhow::Result<(AcdClipConfig, TensorStore)> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let meta = read_checkpoint_meta(&bytes)
        .with_context(|| format!("{}", path.display()))?
        .with_context(|| {
            format!(
                "{}: not an `acd train` checkpoint; for official adapter files use --clip and --adapters",
                path.display()
            )
        })?;
    let mut store =
        TensorStore::from_bytes(&bytes).with_context(|| format!("loading {}", path.display()))?;
    if !meta.with_backbone {
        let Some(clip) = clip else {
            bail!(
                "{}: the checkpoint holds adapters only: add --clip with the CLIP weights it was trained on",
                path.display()
            );
        };
        store.append(&mut *read_store(clip)?);
    }
    Ok((meta.config, store.finish()))
}

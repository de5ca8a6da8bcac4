//! Where the model comes from: CLIP weights + an adapter checkpoint, or a fixture folder.

use std::path::{Path, PathBuf};

use acd_core::fixture::FixtureConfig;
use acd_core::weights::load::{infer_adapter_config, infer_clip_config};
use acd_core::weights::TensorStore;
use acd_core::{AcdClipConfig, Activation, Domain};
use anyhow::{bail, Context};
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
    #[arg(long, requires = "adapters")]
    pub clip: Option<PathBuf>,
    /// ACD-CLIP adapter checkpoint (official adapter_<epoch>.pth or a safetensors file with the same keys).
    #[arg(long)]
    pub adapters: Option<PathBuf>,
    /// Use the model of an official-format fixture folder instead (for testing).
    #[arg(long, conflicts_with_all = ["clip", "adapters"])]
    pub fixture: Option<PathBuf>,
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

pub fn load(args: &ModelArgs) -> anyhow::Result<(AcdClipConfig, TensorStore)> {
    if let Some(dir) = &args.fixture {
        let files = crate::check_fixture::read_fixture(dir)?;
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
    let (Some(clip), Some(adapters)) = (&args.clip, &args.adapters) else {
        bail!("give --clip WEIGHTS --adapters CHECKPOINT, or --fixture DIR");
    };
    let mut store = read_store(clip)?;
    let adapter_store = read_store(adapters)?;
    if !adapter_store
        .names()
        .any(|n| n.starts_with("image_adapter."))
    {
        bail!(
            "{}: no `image_adapter.*` keys: not an ACD-CLIP adapter checkpoint",
            adapters.display()
        );
    }
    store.extend(adapter_store);
    let store = store.finish();
    let activation = match args.activation {
        ActivationArg::Gelu => Activation::Gelu,
        ActivationArg::QuickGelu => Activation::QuickGelu,
    };
    let mut clip_cfg = infer_clip_config(&store, args.image_size, activation, args.head_width)?;
    clip_cfg.vision.heads = args.vision_heads.unwrap_or(clip_cfg.vision.heads);
    clip_cfg.text.heads = args.text_heads.unwrap_or(clip_cfg.text.heads);
    let adapter = infer_adapter_config(&store)?;
    let domain = match args.domain {
        DomainArg::Industrial => Domain::Industrial,
        DomainArg::Medical => Domain::Medical,
    };
    let cfg = AcdClipConfig {
        clip: clip_cfg,
        adapter,
        domain,
        map_size: args.image_size,
    };
    cfg.validate()?;
    Ok((cfg, store))
}

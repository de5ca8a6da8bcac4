//! `acd train`: the official recipe (docs/model.md §5) on a dataset, on normal images with
//! synthetic anomalies, or on the project's procedural textures; checkpoints per epoch, a
//! JSON-lines log, and validation with the same protocol as `acd eval`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use acd_core::config::presets;
use acd_core::weights::checkpoint::CheckpointMeta;
use acd_core::weights::infer::infer_clip_config;
use acd_core::weights::load::{load_text, load_vision};
use acd_core::weights::TensorStore;
use acd_core::{AcdClip, AcdClipConfig, Activation, AdapterConfig, Detector, Domain};
use acd_train::checkpoint::{checkpoint_path, load_checkpoint, save_checkpoint};
use acd_train::evaluation::evaluate;
use acd_train::fit::{fit, Event, NoAugment, Prepare, SampleSource};
use acd_train::sources::{
    texture_eval_set, DatasetSource, OfficialAugment, SyntheticSource, TextureSource,
};
use acd_train::{Recipe, Trainer};
use anyhow::{bail, Context};
use burn::backend::Autodiff;
use burn::module::AutodiffModule;
use burn::tensor::backend::Backend;
use clap::ValueEnum;
use indicatif::{ProgressBar, ProgressStyle};

use crate::data_args::{DatasetArgs, TextureArgs};

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Preset {
    /// Small model for CPU training from scratch (width 64, 4 layers).
    Tiny,
    VitB16,
    VitL14_336,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Output folder: adapter_<epoch>.safetensors, train.log (JSON lines), summary.json.
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub textures: TextureArgs,
    #[command(flatten)]
    pub dataset: DatasetArgs,
    /// Train on normal images only: every other sample gets a synthetic anomaly (needs --dataset;
    /// its normal images are used).
    #[arg(long)]
    pub synthetic: bool,
    /// CLIP weights to start from (frozen unless --train-backbone).
    #[arg(long)]
    pub clip: Option<PathBuf>,
    /// Random-initialised backbone of this shape (train it with --train-backbone).
    #[arg(long, value_enum, conflicts_with = "clip")]
    pub preset: Option<Preset>,
    /// Continue from a checkpoint of `acd train` (weights and epoch; Adam's moments restart).
    #[arg(long)]
    pub resume: Option<PathBuf>,
    #[arg(long, default_value_t = 518)]
    pub image_size: usize,
    /// Backbone overrides for --preset.
    #[arg(long)]
    pub patch_size: Option<usize>,
    #[arg(long)]
    pub width: Option<usize>,
    #[arg(long)]
    pub layers: Option<usize>,
    #[arg(long)]
    pub heads: Option<usize>,
    /// Number of adapter groups N (the paper: 2, 3, 4 or 6; must divide both depths).
    #[arg(long, default_value_t = 4)]
    pub groups: usize,
    #[arg(long, default_value_t = 20)]
    pub epochs: usize,
    #[arg(long, default_value_t = 6)]
    pub batch_size: usize,
    /// Samples per epoch for the texture source (datasets use all their images).
    #[arg(long, default_value_t = 600)]
    pub samples_per_epoch: usize,
    #[arg(long, default_value_t = 1e-3)]
    pub image_lr: f64,
    #[arg(long, default_value_t = 5e-4)]
    pub text_lr: f64,
    #[arg(long, default_value_t = 0.9)]
    pub lr_gamma: f64,
    /// Also train both CLIP towers (for small backbones trained from scratch).
    #[arg(long)]
    pub train_backbone: bool,
    #[arg(long, default_value_t = 2e-4)]
    pub backbone_lr: f64,
    #[arg(long)]
    pub no_augment: bool,
    /// Linear learning-rate warm-up over this many steps (not in the paper; helps from scratch).
    #[arg(long, default_value_t = 0)]
    pub warmup_steps: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Validate after each epoch on procedural textures of this data seed (same --textures kinds).
    #[arg(long)]
    pub val_texture_seed: Option<u64>,
    /// Normal and anomalous validation images per class.
    #[arg(long, default_value_t = 10)]
    pub val_per_class: usize,
    #[arg(long, value_enum, default_value = "gelu")]
    pub activation: crate::model_source::ActivationArg,
    #[arg(long, value_enum, default_value = "ndarray")]
    pub backend: crate::backend::BackendKind,
}

/// Progress lines: above the bar on a terminal, plain stderr lines otherwise (logs, CI).
fn say(bar: &ProgressBar, line: String) {
    if bar.is_hidden() {
        eprintln!("{line}");
    } else {
        bar.println(line);
    }
}

fn clip_activation(a: crate::model_source::ActivationArg) -> Activation {
    match a {
        crate::model_source::ActivationArg::Gelu => Activation::Gelu,
        crate::model_source::ActivationArg::QuickGelu => Activation::QuickGelu,
    }
}

/// The model to train and the epoch to start at.
fn initial_model<B: Backend>(
    args: &Args,
    device: &B::Device,
) -> anyhow::Result<(AcdClip<B>, AcdClipConfig, usize)> {
    if let Some(path) = &args.resume {
        let clip = match &args.clip {
            Some(p) => Some(
                TensorStore::from_bytes(
                    &std::fs::read(p).with_context(|| format!("reading {}", p.display()))?,
                )?
                .finish(),
            ),
            None => None,
        };
        let (model, meta) = load_checkpoint::<B>(path, clip.as_ref(), device)?;
        return Ok((model, meta.config, meta.epoch + 1));
    }
    let adapter = AdapterConfig {
        n_groups: args.groups,
        ..AdapterConfig::default()
    };
    if let Some(path) = &args.clip {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let mut store = TensorStore::from_bytes(&bytes)?.finish();
        let clip = infer_clip_config(
            &store,
            args.image_size,
            clip_activation(args.activation),
            64,
        )?;
        let cfg = AcdClipConfig {
            clip,
            adapter,
            domain: Domain::Industrial,
            map_size: args.image_size,
        };
        cfg.validate()?;
        let mut model = AcdClip::<B>::new(&cfg, device);
        model.vision = load_vision(&mut store, &cfg.clip, device)?;
        model.text = Some(load_text(&mut store, &cfg.clip, device)?);
        return Ok((model, cfg, 1));
    }
    let Some(preset) = args.preset else {
        bail!("give --clip WEIGHTS (the paper's setting), --preset (random backbone) or --resume CHECKPOINT");
    };
    let s = args.image_size;
    let mut cfg = match preset {
        Preset::Tiny => presets::tiny(s),
        Preset::VitB16 => AcdClipConfig {
            clip: presets::vit_b_16(s, clip_activation(args.activation)),
            adapter: AdapterConfig::default(),
            domain: Domain::Industrial,
            map_size: s,
        },
        Preset::VitL14_336 => AcdClipConfig {
            clip: presets::vit_l_14_336(s, clip_activation(args.activation)),
            adapter: AdapterConfig::default(),
            domain: Domain::Industrial,
            map_size: s,
        },
    };
    cfg.adapter.n_groups = args.groups;
    let v = &mut cfg.clip.vision;
    v.patch_size = args.patch_size.unwrap_or(v.patch_size);
    if let Some(w) = args.width {
        v.width = w;
        v.mlp_hidden = 4 * w;
    }
    v.layers = args.layers.unwrap_or(v.layers);
    v.heads = args.heads.unwrap_or(v.heads);
    cfg.validate()?;
    Ok((AcdClip::<B>::new(&cfg, device), cfg, 1))
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    // The losses take f32 targets, and f16 training would need loss scaling besides.
    if args.backend == crate::backend::BackendKind::WgpuF16 {
        bail!("training runs in f32: use --backend wgpu (wgpu-f16 is for detect, eval, calibrate and bench)");
    }
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    crate::with_backend!(args.backend, |B, device| run_with::<B>(&args, device))
}

fn run_with<B: Backend>(args: &Args, device: B::Device) -> anyhow::Result<ExitCode> {
    type A<B> = Autodiff<B>;
    // Seeded initialisation: the same command gives the same model.
    <A<B> as Backend>::seed(&device, args.seed);
    let (model, cfg, first_epoch) = initial_model::<A<B>>(args, &device)?;
    let dataset = args.dataset.open()?;
    let synthesizer = args.textures.synthesizer()?;
    let source: Box<dyn SampleSource> = match (&dataset, args.textures.is_set()) {
        (Some(_), true) => bail!("give either --dataset or --textures, not both"),
        (Some(ds), false) if args.synthetic => {
            let normals: Vec<_> = ds
                .samples()
                .iter()
                .chain(ds.train_samples())
                .filter(|s| !s.is_anomalous())
                .cloned()
                .collect();
            if normals.is_empty() {
                bail!("--synthetic: the dataset has no normal images");
            }
            Box::new(SyntheticSource {
                normals,
                synthesizer: synthesizer.clone(),
                seed: args.seed,
            })
        }
        (Some(ds), false) => {
            // Supervised training needs every anomalous image's mask (the segmentation losses).
            let unmasked = ds
                .samples()
                .iter()
                .filter(|s| s.is_anomalous() && s.mask.is_none())
                .count();
            if unmasked > 0 {
                bail!(
                    "{unmasked} anomalous images of the dataset have no mask: supervised training \
                     needs masks. Train from its normal images with --synthetic (synthetic \
                     anomalies with their own masks) instead"
                );
            }
            Box::new(DatasetSource::new(ds.samples().to_vec()))
        }
        (None, true) => Box::new(TextureSource {
            spec: args.textures.spec(0)?,
            samples_per_epoch: args.samples_per_epoch,
        }),
        (None, false) => bail!("no training data: give --dataset DIR or --textures KINDS"),
    };
    let recipe = Recipe {
        epochs: args.epochs,
        batch_size: args.batch_size,
        image_lr: args.image_lr,
        text_lr: args.text_lr,
        lr_gamma: args.lr_gamma,
        train_backbone: args.train_backbone,
        backbone_lr: args.backbone_lr,
        augment: !args.no_augment,
        seed: args.seed,
        warmup_steps: args.warmup_steps,
        ..Recipe::default()
    };
    let command: Vec<String> = std::env::args().collect();
    let mut log = std::fs::File::create(args.out.join("train.log"))
        .with_context(|| format!("creating {}", args.out.join("train.log").display()))?;
    let header = serde_json::json!({
        "event": "start", "command": command.join(" "), "config": cfg, "recipe": recipe,
        "first_epoch": first_epoch, "samples_per_epoch": source.len(),
        "synthetic_anomalies": (args.synthetic && dataset.is_some()).then_some(&synthesizer.kinds),
    });
    writeln!(log, "{header}")?;
    let mut trainer = Trainer::new(model, cfg.clone(), recipe.clone(), device.clone())?;
    let prepare: &dyn Prepare = if recipe.augment {
        &OfficialAugment
    } else {
        &NoAugment
    };
    let val_spec = match args.val_texture_seed {
        Some(seed) => Some(
            TextureArgs {
                texture_seed: seed,
                ..args.textures.clone()
            }
            .spec(args.val_per_class)?,
        ),
        None => None,
    };

    let steps = source.len().div_ceil(recipe.batch_size.max(1));
    let bar = ProgressBar::new(steps as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "epoch {prefix} {bar:30} {pos}/{len} {msg} [{elapsed_precise} < {eta_precise}]",
        )
        .expect("valid template"),
    );
    let start = Instant::now();
    let mut log_lines: Vec<String> = Vec::new();
    let mut on_event = |e: &Event| match e {
        Event::Step {
            epoch,
            step,
            losses,
            lr_image,
            images_per_second,
            ..
        } => {
            bar.set_prefix(format!("{epoch}/{}", recipe.epochs));
            bar.set_position(*step as u64);
            bar.set_message(format!(
                "loss {:.4} (ce {:.3} focal {:.3} dice {:.3}/{:.3}) lr {:.2e} {:.1} img/s",
                losses.total,
                losses.cross_entropy,
                losses.focal,
                losses.dice_normal,
                losses.dice_abnormal,
                lr_image,
                images_per_second
            ));
            // Without a terminal (logs, CI) the bar is hidden: ten plain lines per epoch instead.
            if bar.is_hidden() && *step % (steps / 10).max(1) == 0 {
                eprintln!(
                    "epoch {epoch}/{} step {step}/{steps}: {}",
                    recipe.epochs,
                    bar.message()
                );
            }
            log_lines.push(serde_json::json!({"event": "step", "epoch": epoch, "step": step, "losses": losses, "lr_image": lr_image, "images_per_second": images_per_second}).to_string());
        }
        Event::EpochEnd {
            epoch,
            mean_loss,
            seconds,
        } => {
            say(
                &bar,
                format!("epoch {epoch}: mean loss {mean_loss:.4} ({seconds:.0} s)"),
            );
            log_lines.push(serde_json::json!({"event": "epoch", "epoch": epoch, "mean_loss": mean_loss, "seconds": seconds}).to_string());
            bar.reset();
        }
    };
    let out = args.out.clone();
    let mut summary = serde_json::Value::Null;
    let mut on_epoch_end =
        |t: &Trainer<A<B>>, epoch: usize, mean_loss: f64| -> Result<(), acd_train::TrainError> {
            let mut validation = serde_json::Value::Null;
            if let Some(spec) = &val_spec {
                let mut det = Detector::new(t.model().valid(), t.config.clone(), device.clone());
                let run = evaluate(&mut det, texture_eval_set(spec), 0.3, &mut |_, _| {})?;
                let report = acd_eval::Report::new(
                    "validation",
                    serde_json::Value::Null,
                    run.classes,
                    acd_eval::Missing::Zero,
                );
                say(
                    &bar,
                    format!(
                "epoch {epoch} validation (texture seed {}): pixel AUROC {:.2}, image AUROC {:.2}",
                spec.seed,
                report.mean.pixel_auroc.unwrap_or(f64::NAN),
                report.mean.image_auroc.unwrap_or(f64::NAN)
            ),
                );
                validation = serde_json::json!({"texture_spec": spec, "mean": report.mean});
            }
            let meta = CheckpointMeta {
                config: t.config.clone(),
                epoch,
                with_backbone: t.recipe.train_backbone || args.preset.is_some(),
                training: serde_json::json!({
                    "command": command.join(" "), "recipe": t.recipe, "mean_loss": mean_loss,
                    "validation": validation, "seconds": start.elapsed().as_secs_f64(),
                }),
            };
            let path = checkpoint_path(&out, epoch);
            save_checkpoint(&path, t.model(), &meta)?;
            say(&bar, format!("wrote {}", path.display()));
            summary = meta.training.clone();
            Ok(())
        };
    let result = fit(
        &mut trainer,
        source.as_ref(),
        prepare,
        first_epoch,
        &mut on_event,
        &mut on_epoch_end,
    );
    bar.finish_and_clear();
    for line in &log_lines {
        writeln!(log, "{line}")?;
    }
    result?;
    std::fs::write(
        args.out.join("summary.json"),
        serde_json::to_string_pretty(&summary)? + "\n",
    )?;
    eprintln!("trained in {:.0} s", start.elapsed().as_secs_f64());
    Ok(ExitCode::SUCCESS)
}

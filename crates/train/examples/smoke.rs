//! Quick training experiment on procedural textures (for tuning; the real entry point is `acd train`).
//! env: SIZE PATCH STEPS BATCH LR BLR WIDTH LAYERS GROUPS KINDS
use acd_core::config::presets;
use acd_core::{AcdClip, Detector};
use acd_data::TextureKind;
use acd_train::evaluation::evaluate;
use acd_train::fit::{fit, Event};
use acd_train::fit::{NoAugment, Prepare};
use acd_train::sources::{texture_eval_set, OfficialAugment, TextureSource};
use acd_train::{Recipe, Trainer};
use burn::backend::{Autodiff, NdArray};
use burn::module::AutodiffModule;

type B = Autodiff<NdArray<f32>>;

fn env<T: std::str::FromStr>(k: &str, d: T) -> T {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(d)
}

fn main() {
    let size: usize = env("SIZE", 64);
    let mut cfg = presets::tiny(size);
    cfg.clip.vision.patch_size = env("PATCH", 8);
    cfg.clip.vision.width = env("WIDTH", 64);
    cfg.clip.vision.layers = env("LAYERS", 4);
    cfg.adapter.n_groups = env("GROUPS", 2);
    let nk: usize = env("KINDS", 3);
    let kinds: Vec<TextureKind> = TextureKind::all()[..nk].to_vec();
    let batch: usize = env("BATCH", 8);
    let steps: usize = env("STEPS", 200);
    let spe = env("SPE", 50);
    let recipe = Recipe {
        epochs: steps.div_ceil(spe),
        batch_size: batch,
        train_backbone: true,
        image_lr: env("LR", 1e-3),
        text_lr: env("TLR", 5e-4),
        backbone_lr: env("BLR", 1e-3),
        augment: env("AUG", 1) == 1,
        seed: 11,
        warmup_steps: env("WARMUP", 0),
        lr_gamma: env("GAMMA", 0.9),
        ..Recipe::default()
    };
    let dev = Default::default();
    <B as burn::tensor::backend::Backend>::seed(&dev, env("SEED", 7));
    let model = AcdClip::<B>::new(&cfg, &dev);
    let mut trainer = Trainer::new(model, cfg.clone(), recipe, dev).unwrap();
    let spec = |seed: u64, n: usize| acd_data::TextureDatasetSpec {
        kinds: kinds.clone(),
        min_area_fraction: env("MINAREA", 0.001f32),
        anomaly_kinds: std::env::var("ANOM")
            .map(|v| {
                v.split(',')
                    .map(|k| match k {
                        "spot" => acd_data::AnomalyKind::Spot,
                        "scratch" => acd_data::AnomalyKind::Scratch,
                        "cut_paste" => acd_data::AnomalyKind::CutPaste,
                        _ => acd_data::AnomalyKind::Draem,
                    })
                    .collect()
            })
            .unwrap_or_else(|_| acd_data::AnomalyKind::all().to_vec()),
        ..acd_data::TextureDatasetSpec::new(size as u32, n, n, seed)
    };
    let source = TextureSource {
        spec: spec(1, 0),
        samples_per_epoch: spe * batch,
    };
    let mut acc = [0f64; 5];
    let mut n = 0;
    let t0 = std::time::Instant::now();
    let aug: &dyn Prepare = if env("AUG", 1) == 1 {
        &OfficialAugment
    } else {
        &NoAugment
    };
    fit(&mut trainer, &source, aug, 1, &mut |e| {
        if let Event::Step { losses: l, step, .. } = e {
            acc[0] += l.total; acc[1] += l.cross_entropy; acc[2] += l.focal; acc[3] += l.dice_normal; acc[4] += l.dice_abnormal; n += 1;
            if step % 25 == 0 {
                let k = n as f64;
                println!("step {step}: total {:.4} ce {:.4} focal {:.4} dice_n {:.4} dice_a {:.4}  ({:.1}s)", acc[0]/k, acc[1]/k, acc[2]/k, acc[3]/k, acc[4]/k, t0.elapsed().as_secs_f64());
                acc = [0.0; 5]; n = 0;
            }
        }
    }, &mut |_, _, _| Ok(())).unwrap();
    let model = trainer.into_model().valid();
    let mut det = Detector::new(model.clone(), cfg.clone(), Default::default());
    let mut det2 = Detector::new(model, cfg, Default::default());
    det2.set_blur(None);
    let run2 = evaluate(
        &mut det2,
        texture_eval_set(&spec(1000, 6)),
        0.3,
        &mut |_, _| {},
    )
    .unwrap();
    for c in &run2.classes {
        println!(
            "no blur {}: pixel AUROC {:.4}",
            c.class_name,
            c.pixel_auroc.unwrap_or(f64::NAN)
        );
    }
    let run = evaluate(
        &mut det,
        texture_eval_set(&spec(1000, 6)),
        0.3,
        &mut |_, _| {},
    )
    .unwrap();
    for c in &run.classes {
        println!(
            "{}: pixel AUROC {:.4} AP {:.4}, image AUROC {:.4}",
            c.class_name,
            c.pixel_auroc.unwrap_or(f64::NAN),
            c.pixel_ap.unwrap_or(f64::NAN),
            c.image_auroc.unwrap_or(f64::NAN)
        );
    }
}

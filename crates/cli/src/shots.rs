//! `acd eval --shots 1,4,8`: the same test set evaluated zero-shot, with the bundle's own
//! normal-reference memories (when it has any), and with a memory of K normal images per class for
//! each K; one summary table with image and pixel AUROC per class and mode, and how many test
//! images the out-of-domain check called outside (all test images are in-domain, so that count is
//! the check's false alarms).

use std::collections::HashSet;
use std::process::ExitCode;

use acd_core::preprocess::RgbImage;
use acd_core::prompts::Category;
use acd_core::reference::{BuildOptions, ReferenceSource};
use acd_data::TextureDatasetSpec;
use acd_eval::{Missing, Report};
use acd_train::evaluation::{category_text, evaluate_as, EvalImage, EvalRun};
use acd_train::sources::{
    dataset_reference_candidates, eval_image, load_reference, product_eval_set, product_references,
    texture_eval_set_owned, texture_references,
};
use acd_train::TrainError;
use anyhow::{bail, Context};
use burn::tensor::backend::Backend;

use crate::eval::Args;
use crate::model_source;

/// One row group of the summary.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    ZeroShot,
    /// The memories shipped in the bundle (`true`: for the domain check only).
    Bundle(bool),
    Shots(usize),
}

impl Mode {
    fn label(self) -> String {
        match self {
            Mode::ZeroShot => "zero-shot".into(),
            Mode::Bundle(false) => "bundle memory".into(),
            Mode::Bundle(true) => "bundle memory (domain check only)".into(),
            Mode::Shots(k) => format!("K = {k}"),
        }
    }
}

type Images<'a> = Box<dyn Iterator<Item = Result<EvalImage, TrainError>> + 'a>;

pub fn run_shots<B: Backend>(
    args: &Args,
    source: model_source::Source,
    missing: Missing,
    device: B::Device,
) -> anyhow::Result<ExitCode> {
    if args.shots.contains(&0) {
        bail!("--shots: K must be at least 1 (the zero-shot row is always included)");
    }
    let mut detector = model_source::detector::<B>(source, device)?;
    let dataset = args.dataset.open()?;
    let spec = args.textures.spec_if_set(args.per_class)?;
    let max_k = args.shots.iter().copied().max().unwrap_or(0);
    // Per class: max(K) reference images; the K-row uses the first K (nested sets).
    let mut references: Vec<(String, Vec<RgbImage>)> = Vec::new();
    let mut held_out: HashSet<String> = HashSet::new();
    match (&dataset, &spec) {
        (Some(_), Some(_)) => bail!("give either --dataset or --textures, not both"),
        (None, None) => bail!("nothing to evaluate: give --dataset DIR or --textures KINDS"),
        (None, Some(sp)) => {
            for &kind in &sp.kinds {
                let refs = if args.textures.texture_product {
                    product_references(sp, kind, max_k, args.shot_seed)?
                } else {
                    texture_references(sp, kind, max_k, args.shot_seed)?
                };
                references.push((kind.name().to_string(), refs));
            }
        }
        (Some(ds), None) => {
            for class in ds.classes() {
                let (pool, from_test) = dataset_reference_candidates(ds, &class, args.shot_seed);
                if pool.len() < max_k {
                    bail!(
                        "class {class}: {} normal images available as references, --shots needs {max_k}",
                        pool.len()
                    );
                }
                let mut refs = Vec::with_capacity(max_k);
                for s in &pool[..max_k] {
                    refs.push(
                        load_reference(s)
                            .with_context(|| format!("reference {}", s.image.display()))?,
                    );
                    if from_test {
                        held_out.insert(s.image.display().to_string());
                    }
                }
                if from_test {
                    eprintln!(
                        "{class}: no normal training images; {max_k} normal test images held out as references (for every row)"
                    );
                }
                references.push((class, refs));
            }
        }
    }
    // One class at a time, so that each class's memory is the active one (and several classes may
    // share one --category).
    let class_images = |class: &str| -> Images<'_> {
        match (&dataset, &spec) {
            (Some(ds), _) => {
                let class = class.to_string();
                let held = &held_out;
                Box::new(
                    ds.samples()
                        .iter()
                        .filter(move |s| {
                            s.class_name == class && !held.contains(&s.image.display().to_string())
                        })
                        .map(eval_image),
                )
            }
            (None, Some(sp)) => {
                let kind = sp.kinds.iter().copied().find(|k| k.name() == class);
                let one = TextureDatasetSpec {
                    kinds: kind.into_iter().collect(),
                    ..sp.clone()
                };
                if args.textures.texture_product {
                    Box::new(product_eval_set(one))
                } else {
                    Box::new(texture_eval_set_owned(one))
                }
            }
            (None, None) => Box::new(std::iter::empty()),
        }
    };
    let category_of = |class: &str| {
        args.category
            .clone()
            .unwrap_or_else(|| category_text(class))
    };
    let bundle_memory = references.iter().find_map(|(c, _)| {
        detector
            .bundle_references()
            .get(&Category::parse(&category_of(c)).key())
            .map(|(_, domain_only)| *domain_only)
    });
    let mut modes = vec![Mode::ZeroShot];
    if let Some(domain_only) = bundle_memory {
        modes.push(Mode::Bundle(domain_only));
    }
    modes.extend(args.shots.iter().map(|&k| Mode::Shots(k)));

    let mut rows: Vec<(Mode, EvalRun)> = Vec::new();
    for &mode in &modes {
        eprintln!("evaluating: {}", mode.label());
        let mut merged: Option<EvalRun> = None;
        for (class, refs) in &references {
            let category = category_of(class);
            match mode {
                Mode::ZeroShot => detector.remove_reference(&category),
                Mode::Bundle(_) => detector.clear_reference(&category),
                Mode::Shots(k) => {
                    let options = BuildOptions {
                        seed: args.shot_seed,
                        features: args.reference_features,
                        ..BuildOptions::default()
                    };
                    let memory = detector
                        .build_reference(&refs[..k], &options)
                        .with_context(|| format!("building the {k}-image memory of {class}"))?;
                    detector.set_reference(&category, memory, ReferenceSource::User)?;
                }
            }
            let run = evaluate_as(
                &mut detector,
                class_images(class),
                args.fpr_limit,
                Some(&category),
                &mut |_, _| {},
            )?;
            merged = Some(match merged {
                None => run,
                Some(mut acc) => {
                    acc.classes.extend(run.classes);
                    acc.images.extend(run.images);
                    acc.detect_seconds += run.detect_seconds;
                    acc.metric_seconds += run.metric_seconds;
                    acc
                }
            });
        }
        if let Some(run) = merged {
            rows.push((mode, run));
        }
    }
    let table = summary_table(&rows, missing);
    println!("{table}");
    if let Some(out) = &args.out {
        std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
        std::fs::write(out.join("shots.md"), &table)?;
        let json: Vec<serde_json::Value> = rows
            .iter()
            .map(|(mode, run)| {
                let report = Report::new(
                    &format!("ACD-CLIP evaluation, {}", mode.label()),
                    serde_json::json!({"mode": mode.label(), "shot_seed": args.shot_seed}),
                    run.classes.clone(),
                    missing,
                );
                serde_json::from_str::<serde_json::Value>(&report.to_json())
                    .unwrap_or(serde_json::Value::Null)
            })
            .collect();
        std::fs::write(out.join("shots.json"), serde_json::to_string_pretty(&json)?)?;
        eprintln!("wrote {}/shots.{{md,json}}", out.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn pct(v: Option<f64>) -> String {
    v.map(|x| format!("{:.2}", 100.0 * x))
        .unwrap_or_else(|| "n/a".into())
}

/// Class × mode: image and pixel AUROC, AUPRO, and the out-of-domain check's calls.
fn summary_table(rows: &[(Mode, EvalRun)], missing: Missing) -> String {
    let mut out = String::from(
        "| class | mode | image AUROC | pixel AUROC | pixel AUPRO | called outside |\n|---|---|---|---|---|---|\n",
    );
    let Some((_, first)) = rows.first() else {
        return out;
    };
    let classes: Vec<String> = first.classes.iter().map(|c| c.class_name.clone()).collect();
    for class in classes.iter().map(Some).chain([None]) {
        for (mode, run) in rows {
            let (image, pixel, pro) = match class {
                Some(name) => {
                    let c = run.classes.iter().find(|c| &c.class_name == name);
                    (
                        c.and_then(|c| c.image_auroc),
                        c.and_then(|c| c.pixel_auroc),
                        c.and_then(|c| c.pixel_aupro),
                    )
                }
                None => {
                    // The report's mean (pixel columns over the classes with pixel metrics only,
                    // so a dataset without masks shows n/a, not 0), back to fractions for pct().
                    let m = acd_eval::report::paper_mean(&run.classes, missing);
                    let fraction = |v: Option<f64>| v.map(|x| x / 100.0);
                    (
                        fraction(m.image_auroc),
                        fraction(m.pixel_auroc),
                        fraction(m.pixel_aupro),
                    )
                }
            };
            let of_class: Vec<_> = run
                .images
                .iter()
                .filter(|r| class.is_none_or(|n| &r.class_name == n))
                .collect();
            let checked = of_class.iter().filter(|r| r.outside.is_some()).count();
            let outside = of_class.iter().filter(|r| r.outside == Some(true)).count();
            let called = if checked == 0 {
                "no memory".to_string()
            } else {
                format!("{outside} / {checked}")
            };
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} |\n",
                class.map(String::as_str).unwrap_or("**mean**"),
                mode.label(),
                pct(image),
                pct(pixel),
                pct(pro),
                called
            ));
        }
    }
    out
}

//! `acd textures`: writes the project's procedural textures as an image folder
//! (`<kind>/good/`, `<kind>/<anomaly>/`, `<kind>/ground_truth/<anomaly>/…_mask.png`), e.g. normal
//! images for `--reference`, or a test set for `acd eval --dataset`. In product mode each class is
//! one texture instance and `<kind>/reference/` holds windows no test image uses.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use acd_core::preprocess::RgbImage;
use anyhow::Context;

use crate::data_args::TextureArgs;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub textures: TextureArgs,
    /// Output folder (created).
    #[arg(long)]
    pub out: PathBuf,
    /// Normal images per class.
    #[arg(long, default_value_t = 8)]
    pub normal: usize,
    /// Anomalous images per class (with masks).
    #[arg(long, default_value_t = 0)]
    pub anomalous: usize,
    /// Product mode only: reference windows per class (`<kind>/reference/`).
    #[arg(long, default_value_t = 0)]
    pub references: usize,
}

fn save_rgb(img: &RgbImage, path: &Path) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    crate::output::write_png_rgb(path, &img.pixels, img.width, img.height)
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if !args.textures.is_set() {
        anyhow::bail!("give --textures KINDS (or all)");
    }
    let mut spec = args.textures.spec(0)?;
    spec.normal_per_class = args.normal;
    spec.anomalous_per_class = args.anomalous;
    if !args.textures.texture_product {
        let summary = acd_data::write_texture_dataset(&args.out, &spec)?;
        eprintln!(
            "wrote {}: {} normal, {} anomalous images",
            args.out.display(),
            summary.normal,
            summary.anomalous
        );
        return Ok(ExitCode::SUCCESS);
    }
    let mut n = 0;
    for item in acd_train::sources::product_eval_set(spec.clone()) {
        let item = item?;
        // name: <kind>/<good|anomalous>/<index>
        let path = args.out.join(format!("{}.png", item.name));
        save_rgb(&item.image, &path)?;
        if let Some(mask) = &item.mask {
            let stem = path.file_stem().unwrap_or_default().to_string_lossy();
            let mpath = args
                .out
                .join(&item.class_name)
                .join("ground_truth/anomalous")
                .join(format!("{stem}_mask.png"));
            if let Some(dir) = mpath.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let bytes: Vec<u8> = mask.iter().map(|&v| if v != 0 { 255 } else { 0 }).collect();
            image::GrayImage::from_raw(item.image.width as u32, item.image.height as u32, bytes)
                .context("mask size")?
                .save(&mpath)
                .with_context(|| format!("writing {}", mpath.display()))?;
        }
        n += 1;
    }
    for &kind in &spec.kinds {
        let refs = acd_train::sources::product_references(&spec, kind, args.references, 0)?;
        for (i, r) in refs.iter().enumerate() {
            save_rgb(
                r,
                &args
                    .out
                    .join(kind.name())
                    .join(format!("reference/{i:03}.png")),
            )?;
        }
    }
    eprintln!(
        "wrote {}: {n} test images and {} reference windows per class (product mode)",
        args.out.display(),
        args.references
    );
    Ok(ExitCode::SUCCESS)
}

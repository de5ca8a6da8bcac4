//! Where images come from for `acd train` and `acd eval`: a dataset on disk (MVTec AD, VisA, the
//! official jsonl index, plain folders) or the project's procedural textures.

use std::path::PathBuf;

use acd_data::{AnomalyKind, Dataset, Layout, TextureDatasetSpec, TextureKind};
use anyhow::{bail, Context};

#[derive(clap::Args, Debug, Clone)]
pub struct TextureArgs {
    /// Texture classes (comma separated: woven_fabric, wood, brushed_metal, tiles, speckled,
    /// carpet, leather; or `all`).
    #[arg(long, value_delimiter = ',')]
    pub textures: Vec<String>,
    /// Data seed of the procedural textures (held-out sets: a seed never used in training).
    #[arg(long, default_value_t = 1)]
    pub texture_seed: u64,
    /// Side of the generated images in pixels.
    #[arg(long, default_value_t = 128)]
    pub texture_size: u32,
    /// Synthetic anomaly kinds (draem, cut_paste, scratch, spot; default all).
    #[arg(long, value_delimiter = ',')]
    pub anomalies: Vec<String>,
    /// Smallest synthetic anomaly as a fraction of the image.
    #[arg(long, default_value_t = 0.001)]
    pub min_anomaly_area: f32,
    /// Product mode (evaluation): each class is one texture instance, like one product photographed
    /// at different places; its images are disjoint windows of one long texture (references for
    /// --shots come from windows no test image uses). Default: every image a new random instance.
    #[arg(long)]
    pub texture_product: bool,
}

impl TextureArgs {
    pub fn is_set(&self) -> bool {
        !self.textures.is_empty()
    }

    /// The dataset spec with `n` normal and `n` anomalous images per class.
    pub fn spec(&self, per_class: usize) -> anyhow::Result<TextureDatasetSpec> {
        let kinds: Vec<TextureKind> = if self.textures.iter().any(|t| t == "all") {
            TextureKind::all().to_vec()
        } else {
            self.textures
                .iter()
                .map(|t| {
                    t.parse::<TextureKind>()
                        .map_err(|e| anyhow::anyhow!("--textures: {e}"))
                })
                .collect::<Result<_, _>>()?
        };
        let anomaly_kinds = if self.anomalies.is_empty() {
            AnomalyKind::all().to_vec()
        } else {
            self.anomalies
                .iter()
                .map(|a| {
                    AnomalyKind::all()
                        .iter()
                        .copied()
                        .find(|k| k.name() == a)
                        .with_context(|| {
                            format!(
                                "--anomalies: unknown kind {a:?} (draem, cut_paste, scratch, spot)"
                            )
                        })
                })
                .collect::<Result<_, _>>()?
        };
        Ok(TextureDatasetSpec {
            kinds,
            anomaly_kinds,
            min_area_fraction: self.min_anomaly_area,
            ..TextureDatasetSpec::new(self.texture_size, per_class, per_class, self.texture_seed)
        })
    }
}

#[derive(clap::Args, Debug, Clone)]
pub struct DatasetArgs {
    /// Dataset root (MVTec AD, VisA, plain folders `<class>/good|<defect>|ground_truth/<defect>`).
    #[arg(long)]
    pub dataset: Option<PathBuf>,
    /// Layout of --dataset: auto, mvtec, visa, folder, or jsonl:FILE (official index).
    #[arg(long, default_value = "auto")]
    pub layout: String,
    /// Only these classes (comma separated).
    #[arg(long, value_delimiter = ',')]
    pub classes: Vec<String>,
}

impl DatasetArgs {
    pub fn open(&self) -> anyhow::Result<Option<Dataset>> {
        let Some(root) = &self.dataset else {
            return Ok(None);
        };
        let layout = match self.layout.as_str() {
            "auto" => Layout::Auto,
            "mvtec" => Layout::MvTec,
            "visa" => Layout::VisA,
            "folder" => Layout::Folder,
            l if l.starts_with("jsonl:") => Layout::Jsonl(PathBuf::from(&l[6..])),
            other => bail!("--layout {other:?}: use auto, mvtec, visa, folder or jsonl:FILE"),
        };
        let mut ds = Dataset::open(root, layout)
            .with_context(|| format!("opening dataset {}", root.display()))?;
        if !self.classes.is_empty() {
            let names: Vec<&str> = self.classes.iter().map(String::as_str).collect();
            ds.retain_classes(&names)?;
        }
        Ok(Some(ds))
    }
}

//! Where images come from for `acd train`, `acd eval` and `acd calibrate`: a dataset on disk
//! (MVTec AD, VisA, an index file (jsonl or CSV, any column names), plain folders) or the
//! project's procedural textures.

use std::path::PathBuf;

use acd_data::{
    AnomalyKind, Dataset, IndexColumns, IndexSpec, Layout, TextureDatasetSpec, TextureKind,
};
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
    /// Synthetic anomaly kinds (draem, cut_paste, scratch, spot; default these four), and the
    /// opt-in texture_wide (colour, contrast, blur, density or orientation of the whole texture
    /// or a large part of it). Also for `acd train --synthetic` on a dataset.
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

    /// The --anomalies kinds (default: all local kinds; texture_wide only when named).
    pub fn anomaly_kinds(&self) -> anyhow::Result<Vec<AnomalyKind>> {
        if self.anomalies.is_empty() {
            return Ok(AnomalyKind::all().to_vec());
        }
        self.anomalies
            .iter()
            .map(|a| {
                a.parse::<AnomalyKind>()
                    .map_err(|e| anyhow::anyhow!("--anomalies: {e}"))
            })
            .collect()
    }

    /// The synthesizer of `acd train --synthetic` on a dataset: the --anomalies kinds and
    /// --min-anomaly-area.
    pub fn synthesizer(&self) -> anyhow::Result<acd_data::Synthesizer> {
        Ok(acd_data::Synthesizer {
            kinds: self.anomaly_kinds()?,
            min_area_fraction: self.min_anomaly_area,
            ..Default::default()
        })
    }

    /// The dataset spec with `n` normal and `n` anomalous images per class.
    /// The texture dataset when --textures was given.
    pub fn spec_if_set(&self, per_class: usize) -> anyhow::Result<Option<TextureDatasetSpec>> {
        if self.is_set() {
            self.spec(per_class).map(Some)
        } else {
            Ok(None)
        }
    }

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
        let anomaly_kinds = self.anomaly_kinds()?;
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
    /// Dataset root (MVTec AD, VisA, plain folders `<class>/good|<defect>[|ground_truth/<defect>]`
    /// with masks optional), or an index file (.jsonl, .csv, .tsv) listing images and labels.
    #[arg(long)]
    pub dataset: Option<PathBuf>,
    /// Layout of --dataset: auto, mvtec, visa, folder, or index:FILE (a jsonl or CSV index under
    /// the --dataset root; jsonl:FILE and csv:FILE say the same).
    #[arg(long, default_value = "auto")]
    pub layout: String,
    /// Only these classes (comma separated).
    #[arg(long, value_delimiter = ',')]
    pub classes: Vec<String>,
    /// Index files: the column (CSV header name or jsonl key) with the image path
    /// (default: image_path, image, path, file or filename).
    #[arg(long)]
    pub image_column: Option<String>,
    /// Index files: the column with the label (default: label, anomalous, is_anomalous or
    /// defective). 0/1, true/false, good/normal/anomalous/defect, or numbers with --label-cutoff.
    #[arg(long)]
    pub label_column: Option<String>,
    /// Index files: numeric labels (e.g. a defect probability) at or above this are anomalous.
    #[arg(long)]
    pub label_cutoff: Option<f64>,
    /// Index files: the column with the class (default: class_name, class or category).
    #[arg(long)]
    pub class_column: Option<String>,
    /// Index files: the class of rows without a class column (default: the index's folder name).
    #[arg(long)]
    pub class_name: Option<String>,
    /// Index files: the column with the mask path, optional per row (default: mask_path or mask).
    #[arg(long)]
    pub mask_column: Option<String>,
}

impl DatasetArgs {
    pub fn open(&self) -> anyhow::Result<Option<Dataset>> {
        let Some(root) = &self.dataset else {
            return Ok(None);
        };
        let columns = IndexColumns {
            image: self.image_column.clone(),
            label: self.label_column.clone(),
            class: self.class_column.clone(),
            mask: self.mask_column.clone(),
            defect: None,
            cutoff: self.label_cutoff,
            class_name: self.class_name.clone(),
        };
        let index = |file: &str| {
            Layout::Index(IndexSpec {
                path: PathBuf::from(file),
                columns: columns.clone(),
            })
        };
        let layout = match self.layout.as_str() {
            "auto" if acd_data::index::is_index_file(root) => index(&root.to_string_lossy()),
            "auto" => Layout::Auto,
            "mvtec" => Layout::MvTec,
            "visa" => Layout::VisA,
            "folder" => Layout::Folder,
            l => match l.split_once(':') {
                Some(("index" | "jsonl" | "csv", file)) if !file.is_empty() => index(file),
                _ => bail!(
                    "--layout {l:?}: use auto, mvtec, visa, folder or index:FILE (jsonl or CSV)"
                ),
            },
        };
        if !matches!(layout, Layout::Index(_)) && columns != IndexColumns::default() {
            bail!("--image-column, --label-column, --label-cutoff, --class-column, --class-name and --mask-column apply to index files (.jsonl, .csv)");
        }
        let mut ds = Dataset::open(root, layout)
            .with_context(|| format!("opening dataset {}", root.display()))?;
        if !self.classes.is_empty() {
            let names: Vec<&str> = self.classes.iter().map(String::as_str).collect();
            ds.retain_classes(&names)?;
        }
        Ok(Some(ds))
    }
}

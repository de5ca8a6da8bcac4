//! Training and evaluation data for the trainer: datasets on disk (the official protocol trains on
//! a dataset's annotated test split), normal images with synthetic anomalies (`--synthetic`), and
//! the project's procedural textures generated on the fly. Plus the official augmentations.

use std::path::PathBuf;

use acd_core::preprocess::RgbImage;
use acd_data::rng::{mix_seed, Rng};
use acd_data::{texture_sample_spec, Dataset, Sample, Synthesizer, TextureDatasetSpec};

use crate::batch::{model_input, resize_mask, TrainSample};
use crate::evaluation::EvalImage;
use crate::fit::{Prepare, SampleSource};
use crate::TrainError;

fn data_err(e: acd_data::DataError) -> TrainError {
    TrainError::Data(e.to_string())
}

pub fn to_core(img: image::RgbImage) -> RgbImage {
    RgbImage {
        width: img.width() as usize,
        height: img.height() as usize,
        pixels: img.into_raw(),
    }
}

fn to_image(img: RgbImage) -> image::RgbImage {
    image::RgbImage::from_raw(img.width as u32, img.height as u32, img.pixels)
        .expect("3 bytes per pixel")
}

/// Annotated samples from disk (images with their masks; normal images get an empty mask).
pub struct DatasetSource {
    pub samples: Vec<Sample>,
}

impl DatasetSource {
    pub fn new(samples: Vec<Sample>) -> Self {
        Self { samples }
    }
}

fn load_sample(s: &Sample) -> Result<TrainSample, TrainError> {
    let img = s.load_image().map_err(data_err)?;
    let mask = s.load_mask(img.width(), img.height()).map_err(data_err)?;
    Ok(TrainSample {
        image: to_core(img),
        mask: mask.into_raw(),
        class_name: s.class_name.clone(),
    })
}

impl SampleSource for DatasetSource {
    fn len(&self) -> usize {
        self.samples.len()
    }
    fn sample(&self, index: usize, _epoch: usize) -> Result<TrainSample, TrainError> {
        load_sample(&self.samples[index])
    }
}

/// Normal images only; every other sample (per epoch, seeded) gets a synthetic anomaly.
pub struct SyntheticSource {
    pub normals: Vec<Sample>,
    pub synthesizer: Synthesizer,
    pub seed: u64,
}

impl SampleSource for SyntheticSource {
    fn len(&self) -> usize {
        // Each normal image appears once as it is and once with an anomaly.
        2 * self.normals.len()
    }
    fn sample(&self, index: usize, epoch: usize) -> Result<TrainSample, TrainError> {
        let s = &self.normals[index / 2];
        let img = s.load_image().map_err(data_err)?;
        let (w, h) = (img.width(), img.height());
        if index % 2 == 0 {
            return Ok(TrainSample {
                image: to_core(img),
                mask: vec![0; (w * h) as usize],
                class_name: s.class_name.clone(),
            });
        }
        let seed = mix_seed(mix_seed(self.seed, epoch as u64), index as u64);
        let syn = self
            .synthesizer
            .synthesize(&img, None, seed)
            .map_err(data_err)?;
        Ok(TrainSample {
            image: to_core(syn.image),
            mask: syn.mask.into_raw(),
            class_name: s.class_name.clone(),
        })
    }
}

/// Procedural textures with synthetic anomalies, new images every epoch: sample `i` of epoch `e`
/// is image `e·len + i` of the texture dataset `spec` (its kinds, size, seed and anomaly
/// settings; half of the samples anomalous).
pub struct TextureSource {
    pub spec: TextureDatasetSpec,
    pub samples_per_epoch: usize,
}

impl SampleSource for TextureSource {
    fn len(&self) -> usize {
        self.samples_per_epoch
    }
    fn sample(&self, index: usize, epoch: usize) -> Result<TrainSample, TrainError> {
        let kinds = &self.spec.kinds;
        let kind = kinds[index % kinds.len()];
        let global = (epoch.saturating_sub(1) * self.samples_per_epoch + index) as u64;
        let anomalous = (index / kinds.len()) % 2 == 1;
        let s = texture_sample_spec(&self.spec, kind, global, anomalous).map_err(data_err)?;
        Ok(TrainSample {
            image: to_core(s.image),
            mask: s.mask.into_raw(),
            class_name: kind.name().to_string(),
        })
    }
}

/// The texture dataset `spec` in memory, image for image what `write_texture_dataset` writes
/// (use a seed never used in training for a held-out set).
pub fn texture_eval_set(
    spec: &TextureDatasetSpec,
) -> impl Iterator<Item = Result<EvalImage, TrainError>> + '_ {
    let (normal, anomalous) = (spec.normal_per_class, spec.anomalous_per_class);
    spec.kinds.iter().flat_map(move |&kind| {
        (0..normal + anomalous).map(move |i| texture_eval_image(spec, kind, i, i >= normal))
    })
}

/// The images of one class of a dataset on disk, for evaluation.
pub fn dataset_class_eval_set<'a>(
    dataset: &'a Dataset,
    class_name: &'a str,
) -> impl Iterator<Item = Result<EvalImage, TrainError>> + 'a {
    dataset
        .samples()
        .iter()
        .filter(move |s| s.class_name == class_name)
        .map(eval_image)
}

pub fn eval_image(s: &Sample) -> Result<EvalImage, TrainError> {
    let img = s.load_image().map_err(data_err)?;
    // Only an anomalous image's mask file is read; without one it has an image label only.
    let mask = match &s.mask {
        Some(_) if s.is_anomalous() => Some(
            s.load_mask(img.width(), img.height())
                .map_err(data_err)?
                .into_raw(),
        ),
        _ => None,
    };
    Ok(EvalImage {
        name: s.image.display().to_string(),
        class_name: s.class_name.clone(),
        image: to_core(img),
        label: s.label,
        mask,
        mask_path: s.mask.clone().map(PathBuf::from),
    })
}

/// `texture_eval_set` owning its spec.
pub fn texture_eval_set_owned(
    spec: TextureDatasetSpec,
) -> impl Iterator<Item = Result<EvalImage, TrainError>> {
    let (normal, anomalous) = (spec.normal_per_class, spec.anomalous_per_class);
    let kinds = spec.kinds.clone();
    kinds.into_iter().flat_map(move |kind| {
        let spec = spec.clone();
        (0..normal + anomalous).map(move |i| texture_eval_image(&spec, kind, i, i >= normal))
    })
}

fn texture_eval_image(
    spec: &TextureDatasetSpec,
    kind: acd_data::TextureKind,
    i: usize,
    bad: bool,
) -> Result<EvalImage, TrainError> {
    let s = texture_sample_spec(spec, kind, i as u64, bad).map_err(data_err)?;
    Ok(texture_eval_item(kind, i, s))
}

/// A generated texture sample as a test image (`<kind>/<good|anomalous>/<index>`).
fn texture_eval_item(
    kind: acd_data::TextureKind,
    i: usize,
    s: acd_data::TextureSample,
) -> EvalImage {
    let bad = s.anomaly.is_some();
    EvalImage {
        name: format!(
            "{}/{}/{i:04}",
            kind.name(),
            if bad { "anomalous" } else { "good" }
        ),
        class_name: kind.name().to_string(),
        image: to_core(s.image),
        // The label is the mask's: a synthetic anomaly that left no pixel changed is normal.
        label: u8::from(bad && s.mask.as_raw().iter().any(|&v| v != 0)),
        mask: bad.then(|| s.mask.into_raw()),
        mask_path: None,
    }
}

/// The images of a dataset on disk, for evaluation.
pub fn dataset_eval_set(
    dataset: &Dataset,
) -> impl Iterator<Item = Result<EvalImage, TrainError>> + '_ {
    dataset.samples().iter().map(eval_image)
}

/// The official training augmentations (docs/model.md §5.3): noise quirk and colour jitter on the
/// 8-bit image, resize + normalise, then rotation / translation / flips on image and mask together.
pub struct OfficialAugment;

impl Prepare for OfficialAugment {
    fn prepare(
        &self,
        s: TrainSample,
        image_size: usize,
        map_size: usize,
        seed: u64,
    ) -> (Vec<f32>, Vec<f32>) {
        let mut rng = Rng::new(seed);
        let (w, h) = (s.image.width, s.image.height);
        let mut img = to_image(s.image);
        acd_data::color_augment(&mut img, &mut rng);
        let mut x = model_input(&to_core(img), image_size);
        let mut mask = resize_mask(&s.mask, w, h, image_size);
        acd_data::geometric_augment(&mut x, &mut mask, image_size, &mut rng);
        if map_size != image_size {
            let bytes: Vec<u8> = mask.iter().map(|&v| (v > 0.5) as u8).collect();
            mask = resize_mask(&bytes, image_size, image_size, map_size);
        }
        (x, mask)
    }
}

/// Salt of the reference images' seed (few-shot evaluation), so that they never coincide with a
/// test set's images.
pub const REFERENCE_SALT: u64 = 0x5EF0_0000_0000_0001;

/// `k` normal texture images of `kind` for a normal-reference memory: images of a data seed derived
/// from the test seed and `shot_seed`, so never one of the test images (which use `spec.seed`).
pub fn texture_references(
    spec: &TextureDatasetSpec,
    kind: acd_data::TextureKind,
    k: usize,
    shot_seed: u64,
) -> Result<Vec<RgbImage>, TrainError> {
    let reference_spec = TextureDatasetSpec {
        seed: mix_seed(mix_seed(spec.seed, REFERENCE_SALT), shot_seed),
        ..spec.clone()
    };
    (0..k as u64)
        .map(|i| {
            texture_sample_spec(&reference_spec, kind, i, false)
                .map(|s| to_core(s.image))
                .map_err(data_err)
        })
        .collect()
}

/// Normal reference candidates of a class on disk, in a seeded order (draw the first `k`): the
/// dataset's normal training images (MVTec `train/good`), or, when it has none, its normal test
/// images, which the caller must then hold out of the test set (`held_out` is true).
pub fn dataset_reference_candidates<'a>(
    dataset: &'a Dataset,
    class_name: &str,
    shot_seed: u64,
) -> (Vec<&'a Sample>, bool) {
    let of_class = |s: &&Sample| s.class_name == class_name && !s.is_anomalous();
    let train: Vec<&Sample> = dataset.train_samples().iter().filter(of_class).collect();
    let (mut pool, held_out) = if train.is_empty() {
        (dataset.samples().iter().filter(of_class).collect(), true)
    } else {
        (train, false)
    };
    pool.sort_by(|a, b| a.image.cmp(&b.image));
    let mut rng = Rng::new(mix_seed(shot_seed, REFERENCE_SALT));
    for i in (1..pool.len()).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        pool.swap(i, j);
    }
    (pool, held_out)
}

/// Loads a dataset sample's image for a reference memory.
pub fn load_reference(sample: &Sample) -> Result<RgbImage, TrainError> {
    sample.load_image().map(to_core).map_err(data_err)
}

/// Product mode: windows after the test images that may serve as references.
pub const PRODUCT_REFERENCE_WINDOWS: usize = 64;

/// Product mode's strip of class `kind`: test windows first (normal, then anomalous), then
/// [`PRODUCT_REFERENCE_WINDOWS`] windows for references. Its length is fixed by the spec alone,
/// so the test images do not depend on how many references a run draws.
fn product_strip_of(spec: &TextureDatasetSpec, kind: acd_data::TextureKind) -> image::RgbImage {
    let windows = spec.normal_per_class + spec.anomalous_per_class + PRODUCT_REFERENCE_WINDOWS;
    acd_data::product_strip(kind, spec.seed, spec.size, windows as u32)
}

/// The texture test set in product mode (`acd_data::product_strip`): each class is one texture
/// instance, its test images disjoint windows of it, anomalous ones with the spec's anomalies.
pub fn product_eval_set(
    spec: TextureDatasetSpec,
) -> impl Iterator<Item = Result<EvalImage, TrainError>> {
    let (normal, anomalous) = (spec.normal_per_class, spec.anomalous_per_class);
    let kinds = spec.kinds.clone();
    kinds.into_iter().flat_map(move |kind| {
        let strip = product_strip_of(&spec, kind);
        let spec = spec.clone();
        (0..normal + anomalous).map(move |i| {
            let bad = i >= normal;
            let window = acd_data::product_window(&strip, spec.size, i as u32)
                .ok_or_else(|| TrainError::Data(format!("no window {i} in the product strip")))?;
            let s =
                acd_data::product_sample(&spec, kind, window, i as u64, bad).map_err(data_err)?;
            Ok(texture_eval_item(kind, i, s))
        })
    })
}

/// `k` reference windows of class `kind` in product mode: the windows after the test images,
/// starting at an offset drawn from `shot_seed` (never a test window).
pub fn product_references(
    spec: &TextureDatasetSpec,
    kind: acd_data::TextureKind,
    k: usize,
    shot_seed: u64,
) -> Result<Vec<RgbImage>, TrainError> {
    if k > PRODUCT_REFERENCE_WINDOWS {
        return Err(TrainError::Data(format!(
            "product mode has {PRODUCT_REFERENCE_WINDOWS} reference windows per class, {k} asked"
        )));
    }
    let strip = product_strip_of(spec, kind);
    let first = spec.normal_per_class + spec.anomalous_per_class;
    let offset =
        (mix_seed(shot_seed, REFERENCE_SALT) % (PRODUCT_REFERENCE_WINDOWS - k + 1) as u64) as usize;
    (0..k)
        .map(|i| {
            acd_data::product_window(&strip, spec.size, (first + offset + i) as u32)
                .map(to_core)
                .ok_or_else(|| TrainError::Data("reference window past the strip".into()))
        })
        .collect()
}

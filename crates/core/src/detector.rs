//! `Detector`: a loaded model plus the per-category text embeddings, turning image bytes into an
//! anomaly map and score (docs/architecture.md §3.3). Shared by the CLI and the page.

use std::collections::HashMap;

use burn::tensor::{backend::Backend, Tensor, TensorData};

use crate::anomaly_map::{max_per_image, MapOperators};
use crate::calibration::{threshold_for, Calibration, Threshold};
use crate::clip::tokenizer::ClipTokenizer;
use crate::config::AcdClipConfig;
use crate::error::Error;
use crate::head::Head;
use crate::model::{AcdClip, PredictOptions};
use crate::precision::in_f32;
use crate::preprocess::{decode_image, normalize, resize_rgb, DecodeLimits, RgbImage};
use crate::prompts::{embed_category, prompt_tokens, Category};
use crate::reference::memory::{ImageFeatures, ReferenceError};
use crate::reference::scoring::{far_fraction, reference_anomaly};
use crate::reference::{
    BuildOptions, DeviceReference, DomainCheck, ReferenceInfo, ReferenceMemory, ReferenceSource,
    REFERENCE_WEIGHT,
};
use crate::resample::resize_bilinear_f32;
use crate::trace::Trace;

/// Milliseconds since some fixed point; supplied by the shell (`Instant` natively,
/// `performance.now()` in the browser) because the core has no clock of its own.
pub type Clock = fn() -> f64;

fn no_clock() -> f64 {
    0.0
}

#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Timings {
    /// Decoding plus resizing to the model size.
    pub decode_ms: f64,
    pub text_ms: f64,
    pub forward_ms: f64,
    pub postprocess_ms: f64,
}

/// The result for one image.
#[derive(Clone, Debug)]
pub struct Detection {
    /// Fused image score in [0, 1].
    pub score: f32,
    /// Classifier probability before fusion with the map max.
    pub p_cls: f32,
    /// Abnormal probability at model size, `map_size²`, row-major.
    pub map: Vec<f32>,
    pub map_size: usize,
    /// The same map at the input image's own size, `width × height`.
    pub image_map: Vec<f32>,
    pub width: usize,
    pub height: usize,
    /// Per group: gate weights `[N, 2]` (text level × {normal, abnormal}).
    pub gate_weights: Vec<Vec<f32>>,
    /// Per group: sigmoid of the abnormal−normal logits at grid size `g²`.
    pub group_maps: Vec<Vec<f32>>,
    pub grid: usize,
    /// The normal-reference memory this detection used (its score and map include it), if any.
    pub reference: Option<ReferenceInfo>,
    /// The out-of-domain check against that memory; `None` without a memory.
    pub domain: Option<DomainCheck>,
    /// The reference anomaly `1 − 2^(−r)` at grid size `g²` (empty without a memory).
    pub reference_map: Vec<f32>,
    /// The threshold to judge the score and outline the map by, and where it came from.
    pub threshold: Threshold,
    pub timings: Timings,
}

/// The built-in CLIP vocabulary's tokenizer, where this build has one (feature `tokenizer`).
fn builtin_tokenizer() -> Option<ClipTokenizer> {
    #[cfg(feature = "tokenizer")]
    return Some(ClipTokenizer::new());
    #[cfg(not(feature = "tokenizer"))]
    None
}

pub struct Detector<B: Backend> {
    model: AcdClip<B>,
    config: AcdClipConfig,
    device: B::Device,
    ops: MapOperators,
    tokenizer: Option<ClipTokenizer>,
    text_cache: HashMap<String, Tensor<B, 3>>,
    pub limits: DecodeLimits,
    clock: Clock,
    /// ACD-CLIP, or plain CLIP without adapters (no groups, no gate).
    head: Head,
    /// Active normal-reference memories by category key.
    references: HashMap<String, DeviceReference<B>>,
    /// The bundle's own memories (with their `domain_only` flag), restored by `clear_reference`.
    bundle_references: HashMap<String, (ReferenceMemory, bool)>,
    /// Calibrated thresholds by category key (from the bundle, or `set_calibration`).
    calibrations: HashMap<String, Calibration>,
}

impl<B: Backend> Detector<B> {
    /// An ACD-CLIP detector (`with_head` for the training-free one).
    pub fn new(model: AcdClip<B>, config: AcdClipConfig, device: B::Device) -> Self {
        Self::with_head(model, config, Head::AcdClip, device)
    }

    /// Folds the adapters for inference and prepares the map operators once. With
    /// `Head::TrainingFree` (zero-shot detection with CLIP weights alone), `model` needs the text
    /// tower and CLIP's `ln_post`/`proj`/`ln_final`/`text_projection`; its adapters are ignored.
    pub fn with_head(
        model: AcdClip<B>,
        config: AcdClipConfig,
        head: Head,
        device: B::Device,
    ) -> Self {
        let grid = config.clip.vision.grid();
        let ops = MapOperators::new(grid, config.map_size, Some(config.domain.blur()));
        let tokenizer = model.text.as_ref().and_then(|_| builtin_tokenizer());
        Self {
            model: model.fold(),
            config,
            device,
            ops,
            tokenizer,
            text_cache: HashMap::new(),
            limits: DecodeLimits::default(),
            clock: no_clock,
            head,
            references: HashMap::new(),
            bundle_references: HashMap::new(),
            calibrations: HashMap::new(),
        }
    }

    /// Replaces the test-time blur of the domain (kernel size, sigma), or removes it with `None`.
    pub fn set_blur(&mut self, blur: Option<(usize, f64)>) {
        self.ops = MapOperators::new(self.ops.grid, self.config.map_size, blur);
    }

    pub fn head(&self) -> Head {
        self.head
    }

    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    pub fn config(&self) -> &AcdClipConfig {
        &self.config
    }

    /// Registers a precomputed class embedding `[N, D_text, 2]` (from a bundle).
    pub fn insert_text_embedding(&mut self, key: &str, embedding: Tensor<B, 3>) {
        self.text_cache.insert(key.to_string(), embedding);
    }

    /// Categories whose embedding is ready.
    pub fn known_categories(&self) -> Vec<String> {
        let mut k: Vec<_> = self.text_cache.keys().cloned().collect();
        k.sort();
        k
    }

    /// The class embedding for a category, computed with the text tower on first use and cached.
    pub fn text_embedding(&mut self, category: &str) -> Result<Tensor<B, 3>, Error> {
        let cat = Category::parse(category);
        if let Some(t) = self
            .text_cache
            .get(&cat.key())
            .or_else(|| self.text_cache.get(category.trim()))
        {
            return Ok(t.clone());
        }
        let tokenizer = match (&self.tokenizer, &self.model.text) {
            (Some(t), _) => t,
            (None, None) => return Err(Error::UnknownCategory(category.to_string())),
            (None, Some(_)) => return Err(Error::NoVocabulary(category.to_string())),
        };
        let prompts = prompt_tokens(tokenizer, category)?;
        let emb = embed_category(&self.model, &self.config, self.head, &prompts, &self.device)?;
        self.text_cache.insert(cat.key(), emb.clone());
        Ok(emb)
    }

    /// Pillow-exact resize to the model size and CLIP normalisation.
    fn model_input(&self, image: &RgbImage) -> Vec<f32> {
        let s = self.config.clip.vision.image_size;
        if image.width == s && image.height == s {
            normalize(image)
        } else {
            normalize(&resize_rgb(image, s, s))
        }
    }

    /// Builds a detector from a loaded bundle (folded model + precomputed class embeddings).
    pub fn from_bundle(bundle: crate::weights::bundle::Bundle<B>, device: B::Device) -> Self {
        let head = bundle.manifest.head();
        let mut d = Self::with_head(bundle.model, bundle.manifest.config, head, device);
        if let Some(tokenizer) = bundle.tokenizer {
            d.tokenizer = Some(tokenizer);
        }
        for (key, emb) in bundle.text_embeddings {
            d.insert_text_embedding(&key, emb);
        }
        for c in &bundle.manifest.categories {
            if let Some(cal) = &c.calibration {
                d.calibrations.insert(c.key.clone(), cal.clone());
            }
        }
        for (key, memory, domain_only) in bundle.references {
            d.bundle_references
                .insert(key.clone(), (memory.clone(), domain_only));
            let r = DeviceReference::new(memory, ReferenceSource::Bundle, domain_only, &d.device);
            d.references.insert(key, r);
        }
        d
    }

    // ---- decision thresholds (`calibration` module) ----------------------------------------------

    /// Sets (or with `None` removes) the calibrated thresholds of `category`.
    pub fn set_calibration(&mut self, category: &str, calibration: Option<Calibration>) {
        let key = Category::parse(category).key();
        match calibration {
            Some(c) => self.calibrations.insert(key, c),
            None => self.calibrations.remove(&key),
        };
    }

    /// The calibration of `category`, whether or not it holds for the active memory.
    pub fn calibration(&self, category: &str) -> Option<&Calibration> {
        self.calibrations.get(&Category::parse(category).key())
    }

    /// The threshold a detection of `category` is judged by now (with the active memory).
    pub fn threshold(&self, category: &str) -> Threshold {
        threshold_for(
            self.calibration(category),
            self.reference(category).map(|r| &r.info),
        )
    }

    // ---- normal-reference memory (few-shot mode, `reference` module) ---------------------------

    /// Makes `memory` the active memory of `category` (checked against this model).
    pub fn set_reference(
        &mut self,
        category: &str,
        memory: ReferenceMemory,
        source: ReferenceSource,
    ) -> Result<ReferenceInfo, Error> {
        memory.check_fits(&self.config, self.head)?;
        let r = DeviceReference::new(memory, source, false, &self.device);
        let info = r.info.clone();
        self.references.insert(Category::parse(category).key(), r);
        Ok(info)
    }

    /// Patches per side of the model's grid.
    pub fn grid(&self) -> usize {
        self.ops.grid
    }

    /// Forgets a user memory of `category`; the bundle's own memory (if any) is active again.
    pub fn clear_reference(&mut self, category: &str) {
        let key = Category::parse(category).key();
        self.references.remove(&key);
        if let Some((m, domain_only)) = self.bundle_references.get(&key) {
            let r = DeviceReference::new(
                m.clone(),
                ReferenceSource::Bundle,
                *domain_only,
                &self.device,
            );
            self.references.insert(key, r);
        }
    }

    /// Switches `category` to zero-shot: no memory, not even the bundle's (until `clear_reference`).
    pub fn remove_reference(&mut self, category: &str) {
        self.references.remove(&Category::parse(category).key());
    }

    /// The active memory of `category`.
    pub fn reference(&self, category: &str) -> Option<&DeviceReference<B>> {
        self.references.get(&Category::parse(category).key())
    }

    /// The bundle's own memories by category key, with their `domain_only` flag.
    pub fn bundle_references(&self) -> &HashMap<String, (ReferenceMemory, bool)> {
        &self.bundle_references
    }

    /// The levels of patch features `features` names, `[B, L, D]` each: the patch embedding of
    /// `x` first (computed here when asked), then the group tokens given.
    fn reference_levels(
        &self,
        features: crate::reference::ReferenceFeatures,
        x: Option<Tensor<B, 4>>,
        groups: &[Tensor<B, 3>],
    ) -> Vec<Tensor<B, 3>> {
        let mut levels = Vec::new();
        if features.uses_embedding() {
            if let Some(x) = x {
                levels.push(self.model.vision.patch_embedding(x));
            }
        }
        if features.uses_groups() {
            levels.extend(groups.iter().cloned());
        }
        levels
    }

    /// The patch features of a normalised `[3, S, S]` input that a memory of kind `features`
    /// keeps, packed flat (one read-back).
    fn reference_features_packed(
        &self,
        input: Vec<f32>,
        features: crate::reference::ReferenceFeatures,
    ) -> Result<Tensor<B, 1>, Error> {
        let s = self.config.clip.vision.image_size;
        if input.len() != 3 * s * s {
            return Err(Error::InputShape {
                found: vec![input.len()],
                expected: vec![3, s, s],
            });
        }
        let x = Tensor::<B, 4>::from_data(TensorData::new(input, [1, 3, s, s]), &self.device);
        let groups = if !features.uses_groups() {
            Vec::new()
        } else if self.head.is_training_free() {
            vec![crate::training_free::patch_tokens(
                &self.model.vision,
                x.clone(),
            )]
        } else {
            self.model
                .forward_vision(&self.config, x.clone(), &mut Trace::off())
                .tokens
        };
        let flat: Vec<Tensor<B, 1>> = self
            .reference_levels(features, Some(x), &groups)
            .into_iter()
            .map(|t| {
                let n: usize = t.dims().iter().product();
                t.reshape([n])
            })
            .collect();
        Ok(Tensor::cat(flat, 0))
    }

    fn split_features(
        &self,
        values: Vec<f32>,
        features: crate::reference::ReferenceFeatures,
    ) -> Result<ImageFeatures, Error> {
        let l = self.ops.grid * self.ops.grid;
        let dims = features.dims(&self.config, self.head);
        let total: usize = dims.iter().map(|d| d * l).sum();
        if values.len() != total {
            return Err(Error::Backend(format!(
                "read {} feature values, expected {total}",
                values.len()
            )));
        }
        let mut rest = values.as_slice();
        Ok(dims
            .iter()
            .map(|d| {
                let (head, tail) = rest.split_at(d * l);
                rest = tail;
                head.to_vec()
            })
            .collect())
    }

    /// The patch features a memory of kind `features` keeps, for one decoded image.
    pub fn reference_features(
        &mut self,
        image: &RgbImage,
        features: crate::reference::ReferenceFeatures,
    ) -> Result<ImageFeatures, Error> {
        let packed = self.reference_features_packed(self.model_input(image), features)?;
        let values = packed
            .into_data()
            .convert::<f32>()
            .to_vec::<f32>()
            .map_err(|e| Error::Backend(format!("{e:?}")))?;
        self.split_features(values, features)
    }

    /// `reference_features` from encoded bytes, for backends that read back asynchronously.
    pub async fn reference_features_async(
        &mut self,
        image_bytes: &[u8],
        features: crate::reference::ReferenceFeatures,
    ) -> Result<ImageFeatures, Error> {
        let image = decode_image(image_bytes, &self.limits)?;
        let packed = self.reference_features_packed(self.model_input(&image), features)?;
        let values = packed
            .into_data_async()
            .await
            .map_err(|e| Error::Backend(format!("{e:?}")))?
            .convert::<f32>()
            .to_vec::<f32>()
            .map_err(|e| Error::Backend(format!("{e:?}")))?;
        self.split_features(values, features)
    }

    /// Builds a memory from decoded normal images (not yet active: see `set_reference`).
    pub fn build_reference(
        &mut self,
        images: &[RgbImage],
        options: &BuildOptions,
    ) -> Result<ReferenceMemory, Error> {
        let mut features = Vec::with_capacity(images.len());
        for (i, img) in images.iter().enumerate() {
            features.push(
                self.reference_features(img, options.features)
                    .map_err(|e| {
                        Error::Reference(ReferenceError::Image {
                            image: i,
                            reason: e.to_string(),
                        })
                    })?,
            );
        }
        Ok(ReferenceMemory::build(&features, self.ops.grid, options)?)
    }

    /// Runs the model on a normalised `[3, S, S]` input; every result is packed into one flat
    /// tensor so that reading it back is a single transfer (one await on WebGPU).
    fn run(&mut self, input: Vec<f32>, category: &str) -> Result<(Tensor<B, 1>, Timings), Error> {
        let s = self.config.clip.vision.image_size;
        if input.len() != 3 * s * s {
            return Err(Error::InputShape {
                found: vec![input.len()],
                expected: vec![3, s, s],
            });
        }
        let t0 = (self.clock)();
        let text = self.text_embedding(category)?;
        let t1 = (self.clock)();
        let x = Tensor::<B, 4>::from_data(TensorData::new(input, [1, 3, s, s]), &self.device);
        let reference = self.references.get(&Category::parse(category).key());
        // The patch embedding is computed only when the active memory uses it.
        let x_for_reference = reference
            .filter(|r| r.memory.features.uses_embedding())
            .map(|_| x.clone());
        if self.head.is_training_free() {
            let [_, e, _] = text.dims();
            let pred = crate::training_free::predict(
                &self.model.vision,
                x,
                text.reshape([e, 2]),
                &self.ops,
                true,
                self.config.domain.score_weight(),
            );
            let g = self.ops.grid;
            let levels = reference.map(|r| {
                self.reference_levels(r.memory.features, x_for_reference, &[pred.patch_tokens])
            });
            let (score, map, extra) = self.with_reference(reference, levels, pred.score, pred.map);
            let n: usize = map.dims().iter().product();
            let mut parts = vec![
                score,
                pred.p_cls,
                map.reshape([n]),
                burn::tensor::activation::sigmoid(pred.patch_logits).reshape([g * g]),
            ];
            parts.extend(extra);
            let packed = pack(parts);
            let forward_ms = (self.clock)() - t1;
            return Ok((
                packed,
                Timings {
                    decode_ms: 0.0,
                    text_ms: t1 - t0,
                    forward_ms,
                    postprocess_ms: 0.0,
                },
            ));
        }
        let features = self
            .model
            .forward_vision(&self.config, x, &mut Trace::off());
        let pred = self.model.predict(
            &self.config,
            &features,
            text,
            &self.ops,
            PredictOptions::INFERENCE,
            &mut Trace::off(),
        );
        let flat = |t: Tensor<B, 3>| {
            let n: usize = t.dims().iter().product();
            t.reshape([n])
        };
        let levels = reference
            .map(|r| self.reference_levels(r.memory.features, x_for_reference, &features.tokens));
        let (score, map, extra) = self.with_reference(reference, levels, pred.score, pred.map);
        let mut parts = vec![score, pred.p_cls, flat(map)];
        parts.extend(pred.gate_weights.into_iter().map(flat));
        parts.extend(
            pred.group_logits
                .into_iter()
                .map(|g| flat(burn::tensor::activation::sigmoid(g))),
        );
        parts.extend(extra);
        let packed = pack(parts);
        Ok((
            packed,
            Timings {
                decode_ms: 0.0,
                text_ms: t1 - t0,
                forward_ms: (self.clock)() - t1,
                postprocess_ms: 0.0,
            },
        ))
    }

    /// Combines the zero-shot score `[1]` and map `[1, S, S]` with the reference anomaly
    /// (`reference` module: `½·zero-shot + ½·reference`). Returns the new score and map and the
    /// values to pack after the rest: the far fraction `[1]` and the reference anomaly `[g²]`.
    fn with_reference(
        &self,
        reference: Option<&DeviceReference<B>>,
        levels: Option<Vec<Tensor<B, 3>>>,
        score: Tensor<B, 1>,
        map: Tensor<B, 3>,
    ) -> (Tensor<B, 1>, Tensor<B, 3>, Vec<Tensor<B, 1>>) {
        let (Some(reference), Some(levels)) = (reference, levels) else {
            return (score, map, Vec::new());
        };
        let g = self.ops.grid;
        let r = reference.normalized_distance(&levels); // [1, L], f32 (the memory's distances)
        let far = far_fraction(r.clone());
        let a = reference_anomaly(r).reshape([1, 1, g, g]);
        let up = self.ops.blur_and_upsample(a.clone()).squeeze_dim::<3>(1);
        let extra = vec![far, a.reshape([g * g])];
        if reference.info.domain_only {
            return (score, map, extra);
        }
        let up_max = max_per_image(up.clone());
        let wr = REFERENCE_WEIGHT as f64;
        (
            score * (1.0 - wr) + up_max * wr,
            map * (1.0 - wr) + up * wr,
            extra,
        )
    }

    /// Splits the packed values (see `run`) into a `Detection`. A read-back of the wrong length
    /// is the backend's failure, reported as such rather than as NaN scores or short maps.
    fn unpack(
        &self,
        values: Vec<f32>,
        category: &str,
        mut timings: Timings,
        t_read: f64,
    ) -> Result<Detection, Error> {
        let n = self.config.adapter.n_groups;
        let (m, g) = (self.config.map_size, self.ops.grid);
        let reference = self.reference(category).map(|r| r.info.clone());
        let groups = if self.head.is_training_free() {
            g * g
        } else {
            n * 2 * n + n * g * g
        };
        let expected = 2 + m * m + groups + if reference.is_some() { 1 + g * g } else { 0 };
        if values.len() != expected {
            return Err(Error::Backend(format!(
                "the model's output read back as {} values, expected {expected}",
                values.len()
            )));
        }
        let mut rest = values.as_slice();
        let mut take = |k: usize| {
            let (head, tail) = rest.split_at(k);
            rest = tail;
            head.to_vec()
        };
        let score = take(1)[0];
        let p_cls = take(1)[0];
        let map = take(m * m);
        // Training-free: no gate, one "group" map (the patch-level probabilities).
        let (gate_weights, group_maps) = if self.head.is_training_free() {
            (Vec::new(), vec![take(g * g)])
        } else {
            (
                (0..n).map(|_| take(2 * n)).collect(),
                (0..n).map(|_| take(g * g)).collect(),
            )
        };
        let (domain, reference_map) = if reference.is_some() {
            let far = take(1)[0];
            (Some(DomainCheck::new(far)), take(g * g))
        } else {
            (None, Vec::new())
        };
        // The forward pass runs lazily on some backends: the read-back wait belongs to it.
        timings.forward_ms += (self.clock)() - t_read;
        Ok(Detection {
            score,
            p_cls,
            image_map: Vec::new(),
            map,
            map_size: m,
            width: m,
            height: m,
            gate_weights,
            group_maps,
            grid: g,
            threshold: self.threshold(category),
            reference,
            domain,
            reference_map,
            timings,
        })
    }

    /// Runs the model on a normalised `[3, S, S]` input.
    pub fn detect_input(&mut self, input: Vec<f32>, category: &str) -> Result<Detection, Error> {
        let (packed, timings) = self.run(input, category)?;
        let t = (self.clock)();
        let values = packed
            .into_data()
            .convert::<f32>()
            .to_vec::<f32>()
            .map_err(|e| Error::Backend(format!("{e:?}")))?;
        self.unpack(values, category, timings, t)
    }

    /// `detect` for backends that can only read results asynchronously (WebGPU in the browser).
    pub async fn detect_async(
        &mut self,
        image_bytes: &[u8],
        category: &str,
    ) -> Result<Detection, Error> {
        let t0 = (self.clock)();
        let image = decode_image(image_bytes, &self.limits)?;
        let input = self.model_input(&image);
        let decode_ms = (self.clock)() - t0;
        let (packed, timings) = self.run(input, category)?;
        let t = (self.clock)();
        let data = packed
            .into_data_async()
            .await
            .map_err(|e| Error::Backend(format!("{e:?}")))?;
        let values = data
            .convert::<f32>()
            .to_vec::<f32>()
            .map_err(|e| Error::Backend(format!("{e:?}")))?;
        let mut det = self.unpack(values, category, timings, t)?;
        det.timings.decode_ms = decode_ms;
        let t2 = (self.clock)();
        attach_image_map(&mut det, &image);
        det.timings.postprocess_ms += (self.clock)() - t2;
        Ok(det)
    }

    /// Decodes image bytes, runs the model, and resizes the map back to the image's size.
    pub fn detect(&mut self, image_bytes: &[u8], category: &str) -> Result<Detection, Error> {
        let t0 = (self.clock)();
        let image = decode_image(image_bytes, &self.limits)?;
        let decode_ms = (self.clock)() - t0;
        let mut det = self.detect_image(&image, category)?;
        det.timings.decode_ms += decode_ms;
        Ok(det)
    }

    /// Runs the model on a decoded image (resized to the model size here) and maps back to its size.
    pub fn detect_image(&mut self, image: &RgbImage, category: &str) -> Result<Detection, Error> {
        let t0 = (self.clock)();
        let input = self.model_input(image);
        let t1 = (self.clock)();
        let mut det = self.detect_input(input, category)?;
        det.timings.decode_ms = t1 - t0;
        let t2 = (self.clock)();
        attach_image_map(&mut det, image);
        det.timings.postprocess_ms += (self.clock)() - t2;
        Ok(det)
    }
}

/// Fills `image_map` at the original image's size.
pub fn attach_image_map(det: &mut Detection, original: &RgbImage) {
    det.width = original.width;
    det.height = original.height;
    det.image_map = resize_bilinear_f32(
        &det.map,
        det.map_size,
        det.map_size,
        original.width,
        original.height,
    );
}

/// The detection's values as one f32 tensor, for one read-back (a model run in f16 gives some of
/// them, the gate weights and the far fraction, in f16).
fn pack<B: Backend>(parts: Vec<Tensor<B, 1>>) -> Tensor<B, 1> {
    Tensor::cat(parts.into_iter().map(in_f32).collect(), 0)
}

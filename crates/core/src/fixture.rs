//! The official-fixture format (docs/architecture.md §3.1): `config.json`, `weights.safetensors`
//! (open_clip names plus `image_adapter.*` / `text_adapter.*`), `io.safetensors` (inputs and every
//! intermediate) and `images/`. `check` runs every stage of this implementation and compares each
//! stored tensor.

use std::collections::BTreeMap;

use burn::tensor::{backend::Backend, Tensor, TensorData};
use safetensors::tensor::{Dtype, SafeTensors};
use serde_json::Value;

use crate::clip::pos_embed::resize_positional_embedding;
use crate::clip::tokenizer::ClipTokenizer;
use crate::config::{
    AcdClipConfig, Activation, AdapterConfig, ClipConfig, Domain, TextConfig, VisionConfig,
};
use crate::error::Error;
use crate::fusion_gateway::{gaussian_kernel, MapOperators};
use crate::model::{AcdClip, PredictOptions, TokenBatch};
use crate::preprocess::{decode_image, normalize, resize_rgb, DecodeLimits, RgbImage};
use crate::prompts::{sentences, Category};
use crate::trace::Trace;
use crate::weights::load::{load_acd_clip, load_text, load_vision};
use crate::weights::raw::RawTensor;
use crate::weights::TensorStore;

/// What a fixture folder holds, read by the caller (the core does no I/O).
pub struct FixtureFiles {
    pub config_json: String,
    pub weights: Vec<u8>,
    pub io: Vec<u8>,
    /// `images/<name>` file bytes, by file name.
    pub images: BTreeMap<String, Vec<u8>>,
}

/// The parts of `config.json` this implementation needs.
#[derive(Clone, Debug)]
pub struct FixtureConfig {
    pub model: AcdClipConfig,
    pub has_adapters: bool,
    pub dataset: String,
    pub class_name: String,
    pub real_name: String,
    pub image_files: Vec<String>,
    pub blur: (usize, f64),
    pub score_weight: f32,
}

fn field<'a>(v: &'a Value, path: &str) -> Result<&'a Value, Error> {
    path.split('.')
        .try_fold(v, |v, k| v.get(k))
        .ok_or_else(|| Error::Fixture(format!("config.json lacks `{path}`")))
}
fn usize_at(v: &Value, path: &str) -> Result<usize, Error> {
    field(v, path)?
        .as_u64()
        .map(|x| x as usize)
        .ok_or_else(|| Error::Fixture(format!("config.json `{path}` is not an integer")))
}
fn f64_at(v: &Value, path: &str) -> Result<f64, Error> {
    field(v, path)?
        .as_f64()
        .ok_or_else(|| Error::Fixture(format!("config.json `{path}` is not a number")))
}
fn str_at(v: &Value, path: &str) -> Result<String, Error> {
    field(v, path)?
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| Error::Fixture(format!("config.json `{path}` is not a string")))
}

/// "nn.GELU() exact erf …, NOT QuickGELU" → erf GELU; a QuickGELU description → QuickGELU.
fn parse_activation(s: &str) -> Activation {
    let l = s.to_lowercase();
    if l.contains("not quickgelu")
        || l.contains("exact erf")
        || l.starts_with("nn.gelu")
        || l == "gelu"
    {
        Activation::Gelu
    } else if l.contains("quick") {
        Activation::QuickGelu
    } else {
        Activation::Gelu
    }
}

impl FixtureConfig {
    pub fn parse(json: &str, weights: &TensorStore) -> Result<Self, Error> {
        let v: Value =
            serde_json::from_str(json).map_err(|e| Error::Fixture(format!("config.json: {e}")))?;
        let m = field(&v, "model")?;
        let mlp = |tower: &str, width: usize| -> usize {
            usize_at(m, &format!("{tower}.mlp_hidden"))
                .or_else(|_| {
                    f64_at(m, &format!("{tower}.mlp_ratio")).map(|r| (r * width as f64) as usize)
                })
                .unwrap_or(4 * width)
        };
        let vw = usize_at(m, "vision.width")?;
        let tw = usize_at(m, "text.width")?;
        let image_size =
            usize_at(m, "vision.img_size").or_else(|_| usize_at(m, "vision.image_size"))?;
        let activation = parse_activation(
            field(m, "vision.activation")
                .ok()
                .and_then(Value::as_str)
                .unwrap_or("gelu"),
        );
        let clip = ClipConfig {
            vision: VisionConfig {
                width: vw,
                layers: usize_at(m, "vision.layers")?,
                heads: usize_at(m, "vision.heads")?,
                patch_size: usize_at(m, "vision.patch_size")?,
                image_size,
                mlp_hidden: mlp("vision", vw),
            },
            text: TextConfig {
                width: tw,
                layers: usize_at(m, "text.layers")?,
                heads: usize_at(m, "text.heads")?,
                context_length: usize_at(m, "text.context_length").unwrap_or(77),
                vocab_size: usize_at(m, "text.vocab_size").unwrap_or(49408),
                mlp_hidden: mlp("text", tw),
            },
            embed_dim: usize_at(m, "embed_dim")?,
            activation,
        };
        let has_adapters = weights.names().any(|n| n.starts_with("image_adapter."));
        let adapter = match field(&v, "acd_clip") {
            Ok(a) => {
                let d = AdapterConfig::default();
                let kernels = field(a, "conv_kernel_size_list")?
                    .as_array()
                    .map(|k| {
                        k.iter()
                            .filter_map(Value::as_u64)
                            .map(|x| x as usize)
                            .collect()
                    })
                    .unwrap_or(d.kernels.clone());
                let inferred = crate::weights::load::infer_adapter_config(weights).ok();
                AdapterConfig {
                    n_groups: usize_at(a, "n_groups")?,
                    lora_rank: usize_at(a, "lora_rank")?,
                    lora_alpha: f64_at(a, "lora_alpha")?,
                    conv_lora_rank: usize_at(a, "conv_lora_rank")?,
                    conv_lora_alpha: f64_at(a, "conv_lora_alpha")?,
                    kernels,
                    image_adapt_weight: f64_at(a, "image_adapt_weight_init")
                        .unwrap_or(d.image_adapt_weight),
                    text_adapt_weight: f64_at(a, "text_adapt_weight_init")
                        .unwrap_or(d.text_adapt_weight),
                    head_hidden: inferred
                        .as_ref()
                        .map(|c| c.head_hidden)
                        .unwrap_or(d.head_hidden),
                    gate_hidden: inferred
                        .as_ref()
                        .map(|c| c.gate_hidden)
                        .unwrap_or(d.gate_hidden),
                }
            }
            Err(_) => AdapterConfig {
                n_groups: 1,
                ..AdapterConfig::default()
            },
        };
        let domain_name = field(&v, "test_mode.domain")
            .ok()
            .and_then(Value::as_str)
            .unwrap_or("Industrial");
        let domain = if domain_name.eq_ignore_ascii_case("medical") {
            Domain::Medical
        } else {
            Domain::Industrial
        };
        // kernel_size / sigma are stored as [k, k] / [σ, σ] (kornia) or as scalars.
        let blur = field(&v, "test_mode.gaussian_blur")
            .ok()
            .and_then(|b| {
                let first = |k: &str| {
                    b.get(k)
                        .map(|x| x.as_array().and_then(|a| a.first()).unwrap_or(x).clone())
                };
                Some((
                    first("kernel_size")?.as_u64()? as usize,
                    first("sigma")?.as_f64()?,
                ))
            })
            .unwrap_or(domain.blur());
        let map_size = usize_at(&v, "test_mode.map_size").unwrap_or(image_size);
        let image_files = field(&v, "batch.files")
            .ok()
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        Ok(Self {
            model: AcdClipConfig {
                clip,
                adapter,
                domain,
                map_size,
            },
            has_adapters,
            dataset: str_at(&v, "prompts.dataset").unwrap_or_else(|_| "MVTec".into()),
            class_name: str_at(&v, "prompts.class_name").unwrap_or_default(),
            real_name: str_at(&v, "prompts.real_name").unwrap_or_default(),
            image_files,
            blur,
            score_weight: domain.score_weight(),
        })
    }
}

/// One line of the report.
#[derive(Clone, Debug)]
pub struct Comparison {
    pub name: String,
    pub max_abs: f64,
    pub max_rel: f64,
    pub tolerance: f64,
    /// `Some(reason)` when the tensor is listed but not compared.
    pub not_applicable: Option<String>,
    /// A failure that is not a numeric difference (shape mismatch, missing output).
    pub error: Option<String>,
}

impl Comparison {
    pub fn passed(&self) -> bool {
        self.not_applicable.is_some() || (self.error.is_none() && self.max_abs <= self.tolerance)
    }
}

/// Default tolerance: 1e-4 relative to the reference tensor's largest magnitude
/// (docs/architecture.md §3.1).
pub const RELATIVE_TOLERANCE: f64 = 1e-4;

/// Compares `ours` with `reference`; the tolerance is `rel · max|reference|` unless `abs_tol` is given.
pub fn compare(
    name: &str,
    ours: &RawTensor,
    reference: &RawTensor,
    abs_tol: Option<f64>,
) -> Comparison {
    let squeeze = |s: &[usize]| s.iter().copied().filter(|&d| d != 1).collect::<Vec<_>>();
    let max_ref = reference
        .data
        .iter()
        .fold(0f64, |m, v| m.max((*v as f64).abs()));
    let tolerance = abs_tol.unwrap_or(RELATIVE_TOLERANCE * max_ref.max(1e-12));
    if squeeze(&ours.shape) != squeeze(&reference.shape) {
        return Comparison {
            name: name.into(),
            max_abs: f64::INFINITY,
            max_rel: f64::INFINITY,
            tolerance,
            not_applicable: None,
            error: Some(format!(
                "shape {:?}, reference {:?}",
                ours.shape, reference.shape
            )),
        };
    }
    let max_abs = ours
        .data
        .iter()
        .zip(&reference.data)
        .fold(0f64, |m, (a, b)| {
            let d = (*a as f64 - *b as f64).abs();
            if d.is_nan() {
                f64::INFINITY
            } else {
                m.max(d)
            }
        });
    Comparison {
        name: name.into(),
        max_abs,
        max_rel: max_abs / max_ref.max(1e-30),
        tolerance,
        not_applicable: None,
        error: None,
    }
}

fn raw_of<B: Backend, const D: usize>(t: &Tensor<B, D>) -> RawTensor {
    RawTensor::new(
        t.dims().to_vec(),
        t.to_data()
            .convert::<f32>()
            .to_vec::<f32>()
            .unwrap_or_default(),
    )
}

/// `io.safetensors`: float tensors as f32, integer tensors (tokens, labels, raw pixels) as i64.
struct IoTensors {
    floats: BTreeMap<String, RawTensor>,
    ints: BTreeMap<String, (Vec<usize>, Vec<i64>)>,
}

fn read_io(bytes: &[u8]) -> Result<IoTensors, Error> {
    let st = SafeTensors::deserialize(bytes)
        .map_err(|e| Error::Fixture(format!("io.safetensors: {e}")))?;
    let mut io = IoTensors {
        floats: BTreeMap::new(),
        ints: BTreeMap::new(),
    };
    for (name, view) in st.tensors() {
        let shape = view.shape().to_vec();
        let d = view.data();
        match view.dtype() {
            Dtype::F32 => {
                let v = d
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect();
                io.floats.insert(name, RawTensor::new(shape, v));
            }
            Dtype::I32 => {
                let v = d
                    .chunks_exact(4)
                    .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as i64)
                    .collect();
                io.ints.insert(name, (shape, v));
            }
            Dtype::I64 => {
                let v = d
                    .chunks_exact(8)
                    .map(|b| i64::from_le_bytes(b.try_into().expect("8 bytes")))
                    .collect();
                io.ints.insert(name, (shape, v));
            }
            Dtype::U8 => {
                io.ints
                    .insert(name, (shape, d.iter().map(|&x| x as i64).collect()));
            }
            other => {
                return Err(Error::Fixture(format!(
                    "io.safetensors: tensor `{name}` has unsupported dtype {other:?}"
                )))
            }
        }
    }
    Ok(io)
}

struct Report {
    lines: Vec<Comparison>,
}

impl Report {
    fn push(&mut self, c: Comparison) {
        self.lines.push(c);
    }
    /// Compares a traced tensor against the io tensor of the same name, if the io holds it.
    fn traced(&mut self, io: &IoTensors, trace: &Trace, io_name: &str, trace_name: &str) {
        if let Some(reference) = io.floats.get(io_name) {
            match trace.get(trace_name) {
                Some(ours) => self.push(compare(io_name, ours, reference, None)),
                None => self.missing(io_name, "this stage produced no tensor of that name"),
            }
        }
    }
    fn missing(&mut self, name: &str, why: &str) {
        self.push(Comparison {
            name: name.into(),
            max_abs: f64::INFINITY,
            max_rel: f64::INFINITY,
            tolerance: 0.0,
            not_applicable: None,
            error: Some(why.into()),
        });
    }
    fn exact_ints(&mut self, name: &str, ours: &[i64], reference: &(Vec<usize>, Vec<i64>)) {
        let diff = if ours.len() != reference.1.len() {
            f64::INFINITY
        } else {
            ours.iter()
                .zip(&reference.1)
                .map(|(a, b)| (a - b).abs() as f64)
                .fold(0.0, f64::max)
        };
        self.push(Comparison {
            name: name.into(),
            max_abs: diff,
            max_rel: diff,
            tolerance: 0.0,
            not_applicable: None,
            error: None,
        });
    }
}

fn tokens_of(
    tokenizer: &ClipTokenizer,
    sentences: &[String],
    ctx: usize,
) -> Result<Vec<Vec<u32>>, Error> {
    sentences
        .iter()
        .map(|s| tokenizer.tokenize(s, ctx).map_err(Error::from))
        .collect()
}

/// Full-context batch (no EOT trimming) so every stored position can be compared.
fn full_batch(rows: &[Vec<u32>]) -> TokenBatch {
    let mut b = TokenBatch::new(rows);
    let len = rows.first().map(Vec::len).unwrap_or(0);
    b.ids = rows
        .iter()
        .flat_map(|r| r.iter().map(|&v| v as i64))
        .collect();
    b.len = len;
    b
}

fn images_from_io(io: &IoTensors) -> Vec<(String, RgbImage)> {
    let mut out = Vec::new();
    for i in 0.. {
        let name = format!("input.image{i}.raw_uint8_hwc");
        let Some((shape, data)) = io.ints.get(&name) else {
            break;
        };
        if shape.len() == 3 && shape[2] == 3 {
            out.push((
                name,
                RgbImage {
                    width: shape[1],
                    height: shape[0],
                    pixels: data.iter().map(|&v| v as u8).collect(),
                },
            ));
        }
    }
    out
}

/// Runs every stage on `files` and returns one comparison per tensor of `io.safetensors`
/// (plus this implementation's own fast-path and end-to-end checks, prefixed `fast.` / `e2e.`).
pub fn check<B: Backend>(
    files: &FixtureFiles,
    device: &B::Device,
) -> Result<Vec<Comparison>, Error> {
    let store = TensorStore::from_safetensors(&files.weights)?.finish();
    let fc = FixtureConfig::parse(&files.config_json, &store)?;
    let cfg = &fc.model;
    let io = read_io(&files.io)?;
    let mut r = Report { lines: Vec::new() };
    let tokenizer = ClipTokenizer::new();
    let s = cfg.clip.vision.image_size;

    // Positional embedding resize (docs/model.md §1.2), from the stored pre-resize table.
    if let Some(pre) = io.floats.get("clip.visual.positional_embedding.pre_resize") {
        match (
            resize_positional_embedding(pre, cfg.clip.vision.grid()),
            store.get("visual.positional_embedding"),
        ) {
            (Ok(ours), Some(stored)) => r.push(compare(
                "clip.visual.positional_embedding.pre_resize",
                &ours,
                stored,
                None,
            )),
            (Err(e), _) => r.missing(
                "clip.visual.positional_embedding.pre_resize",
                &e.to_string(),
            ),
            (_, None) => r.missing(
                "clip.visual.positional_embedding.pre_resize",
                "weights lack visual.positional_embedding",
            ),
        }
    }

    // Pre-processing: PNG decode must give the raw pixels; Pillow-exact resize + normalise the input.
    let raw_images = images_from_io(&io);
    let mut decoded_inputs = Vec::new();
    for (i, (name, raw)) in raw_images.iter().enumerate() {
        let file = fc
            .image_files
            .get(i)
            .cloned()
            .unwrap_or_else(|| format!("image{i}.png"));
        let from_file = files
            .images
            .get(&file)
            .map(|b| decode_image(b, &DecodeLimits::default()));
        let img = match from_file {
            Some(Ok(img)) => {
                let ours: Vec<i64> = img.pixels.iter().map(|&v| v as i64).collect();
                r.exact_ints(name, &ours, io.ints.get(name).expect("listed above"));
                img
            }
            Some(Err(e)) => {
                r.missing(name, &format!("images/{file}: {e}"));
                raw.clone()
            }
            None => {
                r.push(Comparison {
                    name: name.clone(),
                    max_abs: 0.0,
                    max_rel: 0.0,
                    tolerance: 0.0,
                    not_applicable: Some(format!(
                        "images/{file} not present; the raw pixels are used directly"
                    )),
                    error: None,
                });
                raw.clone()
            }
        };
        let resized = if img.width == s && img.height == s {
            img
        } else {
            resize_rgb(&img, s, s)
        };
        decoded_inputs.push(normalize(&resized));
    }
    if let Some(reference) = io.floats.get("input.image_preprocessed") {
        let ours = RawTensor::new(vec![decoded_inputs.len(), 3, s, s], decoded_inputs.concat());
        // Pillow rounds the resized image to uint8: one grey level is 1/255/std ≈ 0.0146 here.
        r.push(compare(
            "input.image_preprocessed",
            &ours,
            reference,
            Some(1.0 / 255.0 / 0.2613 + 1e-4),
        ));
    }
    let input = io
        .floats
        .get("input.image_preprocessed")
        .ok_or_else(|| Error::Fixture("io.safetensors lacks input.image_preprocessed".into()))?;
    let batch = input.shape[0];
    let x = || {
        Tensor::<B, 4>::from_data(
            TensorData::new(input.data.clone(), input.shape.clone()),
            device,
        )
    };

    // Tokenizer on the prompt ensemble of every class present.
    let (normal_s, abnormal_s) = sentences(&fc.real_name);
    let ctx = cfg.clip.text.context_length;
    let normal_rows = tokens_of(&tokenizer, &normal_s, ctx)?;
    let abnormal_rows = tokens_of(&tokenizer, &abnormal_s, ctx)?;
    for (name, rows) in [
        ("text.normal.tokens", &normal_rows),
        ("text.abnormal.tokens", &abnormal_rows),
    ] {
        if let Some(reference) = io.ints.get(name) {
            let ours: Vec<i64> = rows.iter().flatten().map(|&v| v as i64).collect();
            r.exact_ints(name, &ours, reference);
        }
    }
    let class_names: Vec<String> = io
        .ints
        .keys()
        .filter_map(|k| {
            k.strip_prefix("text.all_classes.")
                .and_then(|k| k.strip_suffix(".tokens"))
                .map(str::to_string)
        })
        .collect();

    // Plain CLIP outputs.
    let mut clip_store = store.clone();
    let vision = load_vision::<B>(&mut clip_store, &cfg.clip, device)?;
    if let Some(reference) = io.floats.get("clip.encode_image.pooled") {
        r.push(compare(
            "clip.encode_image.pooled",
            &raw_of(&vision.encode_image(x())),
            reference,
            None,
        ));
    }
    let text = load_text::<B>(&mut clip_store, &cfg.clip, device)?;
    for (name, rows) in [
        ("clip.encode_text.normal", normal_rows.clone()),
        ("clip.encode_text.abnormal", abnormal_rows.clone()),
        (
            "clip.encode_text.first_prompt",
            normal_rows.iter().take(1).cloned().collect(),
        ),
    ] {
        if let Some(reference) = io.floats.get(name) {
            let b = TokenBatch::new(&rows);
            r.push(compare(
                name,
                &raw_of(&text.encode_text(b.to_tensor(device), &b.eot)),
                reference,
                None,
            ));
        }
    }
    drop((vision, text));

    if let Some(reference) = io.floats.get("blur.kernel1d") {
        let k: Vec<f32> = gaussian_kernel(fc.blur.0, fc.blur.1)
            .into_iter()
            .map(|v| v as f32)
            .collect();
        r.push(compare(
            "blur.kernel1d",
            &RawTensor::new(vec![k.len()], k),
            reference,
            None,
        ));
    }

    if fc.has_adapters {
        let mut adapter_store = store.clone();
        let model: AcdClip<B> = load_acd_clip(&mut adapter_store, cfg, true, device)?;

        // Text: per-layer intermediates and the class embedding of the fixture's class.
        let mut trace = Trace::on();
        let emb = model.class_embedding(
            cfg,
            &full_batch(&normal_rows),
            &full_batch(&abnormal_rows),
            device,
            &mut trace,
        )?;
        for name in io
            .floats
            .keys()
            .filter(|k| k.starts_with("text.normal.") || k.starts_with("text.abnormal."))
        {
            r.traced(&io, &trace, name, name);
        }
        if let Some(reference) = io.floats.get("text.class_embedding") {
            r.push(compare(
                "text.class_embedding",
                &raw_of(&emb),
                reference,
                None,
            ));
        }
        for class in &class_names {
            let real = Category::parse(class).real_name().to_string();
            let (n, a) = sentences(&real);
            let (nr, ar) = (
                tokens_of(&tokenizer, &n, ctx)?,
                tokens_of(&tokenizer, &a, ctx)?,
            );
            let tok_name = format!("text.all_classes.{class}.tokens");
            let ours: Vec<i64> = nr.iter().chain(&ar).flatten().map(|&v| v as i64).collect();
            r.exact_ints(
                &tok_name,
                &ours,
                io.ints.get(&tok_name).expect("listed above"),
            );
            let emb_name = format!("text.all_classes.{class}.class_embedding");
            if let Some(reference) = io.floats.get(&emb_name) {
                let e = model.class_embedding(
                    cfg,
                    &TokenBatch::new(&nr),
                    &TokenBatch::new(&ar),
                    device,
                    &mut Trace::off(),
                )?;
                r.push(compare(&emb_name, &raw_of(&e), reference, None));
            }
        }

        // Vision, heads, gateway, maps and scores along the official (unfolded) path.
        let ops = MapOperators::new(cfg.clip.vision.grid(), cfg.map_size, Some(fc.blur));
        let mut trace = Trace::on();
        let features = model.forward_vision(cfg, x(), &mut trace);
        let text_emb = || emb.clone();
        let pred = model.predict(
            cfg,
            &features,
            text_emb(),
            &ops,
            PredictOptions::OFFICIAL,
            &mut trace,
        );
        let handled_prefixes = ["vision.", "seg.", "det.", "gate.", "fusion.", "output."];
        for name in io
            .floats
            .keys()
            .filter(|k| handled_prefixes.iter().any(|p| k.starts_with(p)))
        {
            r.traced(&io, &trace, name, name);
        }
        drop(pred);

        // The inference path: folded adapters and one difference map (docs/model.md §2.3, §4.3).
        let folded = model.fold();
        let features = folded.forward_vision(cfg, x(), &mut Trace::off());
        let pred = folded.predict(
            cfg,
            &features,
            text_emb(),
            &ops,
            PredictOptions::INFERENCE,
            &mut Trace::off(),
        );
        for (name, t) in [
            ("output.anomaly_map", raw_of(&pred.map)),
            ("output.image_score_final", raw_of(&pred.score)),
        ] {
            if let Some(reference) = io.floats.get(name) {
                r.push(compare(&format!("fast.{name}"), &t, reference, None));
            }
        }

        // End to end from the image files through our own decode and resize.
        if decoded_inputs.len() == batch {
            let xs = Tensor::<B, 4>::from_data(
                TensorData::new(decoded_inputs.concat(), [batch, 3, s, s]),
                device,
            );
            let features = folded.forward_vision(cfg, xs, &mut Trace::off());
            let pred = folded.predict(
                cfg,
                &features,
                text_emb(),
                &ops,
                PredictOptions::INFERENCE,
                &mut Trace::off(),
            );
            if let Some(reference) = io.floats.get("output.image_score_final") {
                r.push(compare(
                    "e2e.output.image_score_final",
                    &raw_of(&pred.score),
                    reference,
                    None,
                ));
            }
        }
    }

    // Anything stored that no stage compared is listed with the reason.
    let compared: std::collections::HashSet<String> =
        r.lines.iter().map(|c| c.name.clone()).collect();
    for name in io.floats.keys().chain(io.ints.keys()) {
        if compared.contains(name) {
            continue;
        }
        let reason = if name == "input.labels" {
            "ground-truth labels are data, not a model output".to_string()
        } else if !fc.has_adapters && !name.starts_with("clip.") && !name.starts_with("input.") {
            "the weights hold no adapter keys: only the plain CLIP outputs are checked".to_string()
        } else {
            "no stage of this implementation produces a tensor of this name".to_string()
        };
        r.push(Comparison {
            name: name.clone(),
            max_abs: 0.0,
            max_rel: 0.0,
            tolerance: 0.0,
            not_applicable: Some(reason),
            error: None,
        });
    }
    Ok(r.lines)
}

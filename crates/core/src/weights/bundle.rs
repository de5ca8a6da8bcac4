//! The model bundle (docs/architecture.md §3.2): what `acd export` writes and both the CLI and the
//! page load.
//!
//! ```text
//! models/<name>/
//!   manifest.json            format, version, config, precision, categories, files (bytes + SHA-256)
//!   weights-00000.safetensors …  shards ≤ 64 MiB: int8 matrices, f16/f32 small tensors; adapters
//!                            already folded for inference. The f32 scales of a shard's int8 tensors
//!                            are one tensor `__scales__`: per int8 tensor in name order, one scale
//!                            per row (a 1-D tensor is one row), concatenated.
//!   text.safetensors         `category.<key>`: the [N, D_text, 2] class embedding of each category
//!   clip-vocab.bin           with a text tower: CLIP's BPE vocabulary for free-text categories
//!                            (gzip bytes of `bpe_simple_vocab_16e6.txt.gz`; not named `.gz`, which
//!                            some web servers send as `Content-Encoding: gzip`); the page's
//!                            loader has no built-in vocabulary and needs it
//!   reference-<i>-<key>.safetensors   optional: a category's normal-reference memory
//!                            (`reference::file`), named by the category's `reference.file`
//! ```
//! Loading verifies every file's size and SHA-256 before use and names the bad file.

use std::collections::HashMap;

use burn::tensor::{backend::Backend, Tensor, TensorData};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::bundle_files::CheckedFiles;
pub use super::bundle_files::{verify_files, BundleFiles, FileCheck};
use super::load::{load_acd_clip, load_clip_only};
use super::quantize::{dequantize_stored_rows, encode, Encoded, Precision};
use super::raw::RawTensor;
use super::store::{decode_floats, TensorStore};
use crate::clip::tokenizer::ClipTokenizer;
use crate::config::AcdClipConfig;
use crate::model::AcdClip;
use crate::reference::ReferenceMemory;

pub const BUNDLE_FORMAT: &str = "acd-clip-bundle";
pub const BUNDLE_VERSION: u32 = 1;
pub const DEFAULT_MAX_SHARD_BYTES: usize = 64 << 20;
pub const TEXT_FILE: &str = "text.safetensors";
/// CLIP's vocabulary (the bytes of `bpe_simple_vocab_16e6.txt.gz`), in bundles with a text tower.
pub const VOCAB_FILE: &str = "clip-vocab.bin";
const SCALES: &str = "__scales__";
const CATEGORY_PREFIX: &str = "category.";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CategoryEntry {
    pub key: String,
    pub real_name: String,
    /// Optional (a version-1 bundle without it loads as before): the category's normal-reference
    /// memory, used for its maps and scores and for the out-of-domain check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<ReferenceEntry>,
    /// Optional: the category's calibrated decision thresholds (`acd calibrate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<crate::calibration::Calibration>,
}

/// A category's normal-reference memory in a bundle.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReferenceEntry {
    /// The memory file; listed in `files` with its size and SHA-256 like every other file.
    pub file: String,
    /// Normal images it was built from.
    pub images: usize,
    /// Kept patches per visual group.
    pub patches: Vec<usize>,
    /// Seed of the coreset and of the held-out queries.
    pub seed: u64,
    /// Where the images came from (and, when measured, the out-of-domain check's false-alarm rate).
    #[serde(default)]
    pub description: String,
    /// Used for the out-of-domain check only, not in maps and scores (for a memory of a category
    /// whose images vary more than one product's do, e.g. a trained model's training data).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub domain_only: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FileEntry {
    pub file: String,
    pub bytes: u64,
    pub sha256: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub version: u32,
    pub name: String,
    pub description: String,
    /// What the adapters were trained on; `None` for untrained weights.
    pub trained_on: Option<String>,
    /// Random or untrained weights: a page must never present such a bundle as a detector.
    pub untrained: bool,
    pub config: AcdClipConfig,
    pub precision: Precision,
    pub quantization: String,
    pub categories: Vec<CategoryEntry>,
    pub has_text_tower: bool,
    /// CLIP alone, no adapters: the training-free mode (prompt ensembles over patch tokens).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub training_free: bool,
    pub files: Vec<FileEntry>,
}

impl Manifest {
    /// The head this bundle's model runs (its `training_free` flag).
    pub fn head(&self) -> crate::Head {
        crate::Head::from_training_free(self.training_free)
    }

    /// The category keys, comma-separated, for error messages.
    pub fn category_list(&self) -> String {
        self.categories
            .iter()
            .map(|c| c.key.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("manifest.json is not valid: {0}")]
    Manifest(String),
    #[error("manifest format {found:?} is not an ACD-CLIP bundle (expected {BUNDLE_FORMAT:?})")]
    Format { found: String },
    #[error("bundle version {found} is not supported (this build reads version {BUNDLE_VERSION})")]
    Version { found: String },
    #[error("bundle file {file} is missing")]
    MissingFile { file: String },
    #[error("bundle file {file} has {found} bytes, the manifest says {expected} (truncated or replaced)")]
    Size {
        file: String,
        expected: u64,
        found: u64,
    },
    #[error("bundle file {file} fails its SHA-256 check (corrupt or tampered)")]
    Checksum { file: String },
    #[error("bundle file {file}: {reason}")]
    Shard { file: String, reason: String },
    #[error(transparent)]
    Weights(#[from] super::store::WeightError),
    #[error("reference memory of category {category:?} ({file}): {reason}")]
    Reference {
        category: String,
        file: String,
        reason: String,
    },
}

/// Options of `acd export`.
#[derive(Clone, Debug)]
pub struct ExportOptions {
    pub name: String,
    pub description: String,
    pub trained_on: Option<String>,
    pub untrained: bool,
    pub precision: Precision,
    pub with_text_tower: bool,
    pub max_shard_bytes: usize,
    /// `Head::TrainingFree`: the model is CLIP alone, and its projection heads are written
    /// instead of adapters.
    pub head: crate::Head,
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn file_entry(file: &str, bytes: &[u8]) -> FileEntry {
    FileEntry {
        file: file.to_string(),
        bytes: bytes.len() as u64,
        sha256: sha256_hex(bytes),
    }
}

/// Serialises `(name, dtype, shape, bytes)` entries as one safetensors file.
fn serialize(entries: &[(String, Dtype, Vec<usize>, Vec<u8>)]) -> Vec<u8> {
    let views: Vec<(String, TensorView)> = entries
        .iter()
        .map(|(n, d, s, b)| {
            (
                n.clone(),
                TensorView::new(*d, s.clone(), b).expect("sizes match by construction"),
            )
        })
        .collect();
    safetensors::tensor::serialize(views, None).expect("in-memory serialisation")
}

type Entry = (String, Dtype, Vec<usize>, Vec<u8>);

/// The stored tensor and, for int8, its per-row scales (gathered into the shard's `__scales__`).
fn encoded_entry(name: &str, t: &RawTensor, precision: Precision) -> (Entry, Vec<f32>) {
    match encode(t, precision, name.ends_with("bias")) {
        Encoded::F32(v) => (
            (
                name.into(),
                Dtype::F32,
                t.shape.clone(),
                v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            ),
            Vec::new(),
        ),
        Encoded::F16(v) => (
            (
                name.into(),
                Dtype::F16,
                t.shape.clone(),
                v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            ),
            Vec::new(),
        ),
        Encoded::Int8 { values, scales } => (
            (
                name.into(),
                Dtype::I8,
                t.shape.clone(),
                values.iter().map(|&q| q as u8).collect(),
            ),
            scales,
        ),
    }
}

/// One shard file: its tensors plus `__scales__` (int8 tensors are visited in name order, as
/// the store iterates).
fn write_shard(entries: &mut Vec<Entry>, scales: &mut Vec<f32>) -> Vec<u8> {
    if !scales.is_empty() {
        entries.push((
            SCALES.into(),
            Dtype::F32,
            vec![scales.len()],
            scales.iter().flat_map(|x| x.to_le_bytes()).collect(),
        ));
    }
    let bytes = serialize(entries);
    entries.clear();
    scales.clear();
    bytes
}

/// Writes a bundle: the model (folded) and the class embedding of each category.
/// Returns the manifest and the files (name, bytes) to write next to it.
pub fn export_bundle<B: Backend>(
    model: &AcdClip<B>,
    config: &AcdClipConfig,
    categories: &[(CategoryEntry, Tensor<B, 3>)],
    options: &ExportOptions,
) -> Result<(Manifest, Vec<(String, Vec<u8>)>), crate::Error> {
    let with_text = options.with_text_tower && model.text.is_some();
    let store = if options.head.is_training_free() {
        super::save::clip_store(model, with_text)?
    } else {
        super::save::store_from_model(model, with_text)?
    };
    let mut files = Vec::new();
    let (mut shard, mut scales, mut shard_bytes) = (Vec::new(), Vec::new(), 0usize);
    for (name, t) in store.iter() {
        let (entry, entry_scales) = encoded_entry(name, t, options.precision);
        let size = entry.3.len() + 4 * entry_scales.len();
        if shard_bytes + size > options.max_shard_bytes && !shard.is_empty() {
            files.push((
                format!("weights-{:05}.safetensors", files.len()),
                write_shard(&mut shard, &mut scales),
            ));
            shard_bytes = 0;
        }
        shard_bytes += size;
        shard.push(entry);
        scales.extend(entry_scales);
    }
    if !shard.is_empty() {
        files.push((
            format!("weights-{:05}.safetensors", files.len()),
            write_shard(&mut shard, &mut scales),
        ));
    }
    let text_entries: Vec<_> = categories
        .iter()
        .map(|(c, t)| {
            let r = RawTensor::read_back(t.clone()).map_err(|e| {
                crate::Error::Backend(format!(
                    "reading the text embedding of {:?} back for saving: {e}",
                    c.key
                ))
            })?;
            Ok((
                format!("{CATEGORY_PREFIX}{}", c.key),
                Dtype::F32,
                r.shape,
                r.data.iter().flat_map(|x| x.to_le_bytes()).collect(),
            ))
        })
        .collect::<Result<_, crate::Error>>()?;
    files.push((TEXT_FILE.to_string(), serialize(&text_entries)));
    if with_text {
        files.push((VOCAB_FILE.to_string(), vocabulary_for_export()?.to_vec()));
    }
    let manifest = Manifest {
        format: BUNDLE_FORMAT.into(),
        version: BUNDLE_VERSION,
        name: options.name.clone(),
        description: options.description.clone(),
        trained_on: options.trained_on.clone(),
        untrained: options.untrained,
        config: config.clone(),
        precision: options.precision,
        quantization: match options.precision {
            Precision::Int8 => "int8 symmetric per output channel (row) with f32 scales for matrices of ≥ 1024 values, per tensor for biases; f16 for the rest".into(),
            Precision::F16 => "f16".into(),
            Precision::F32 => "f32".into(),
        },
        categories: categories.iter().map(|(c, _)| c.clone()).collect(),
        has_text_tower: with_text,
        training_free: options.head.is_training_free(),
        files: files.iter().map(|(n, b)| file_entry(n, b)).collect(),
    };
    Ok((manifest, files))
}

/// The vocabulary a bundle with a text tower carries: this build's own.
fn vocabulary_for_export() -> Result<&'static [u8], crate::Error> {
    #[cfg(feature = "tokenizer")]
    return Ok(crate::clip::tokenizer::VOCAB_GZ);
    #[cfg(not(feature = "tokenizer"))]
    Err(crate::Error::Backend(
        "a bundle with a text tower carries CLIP's vocabulary, and this build has none (acd-core's `tokenizer` feature is off)".into(),
    ))
}

pub fn parse_manifest(json: &str) -> Result<Manifest, BundleError> {
    // Check format and version first, so a newer bundle is refused with its version named.
    let v: serde_json::Value =
        serde_json::from_str(json).map_err(|e| BundleError::Manifest(e.to_string()))?;
    let format = v.get("format").and_then(|f| f.as_str()).unwrap_or_default();
    if format != BUNDLE_FORMAT {
        return Err(BundleError::Format {
            found: format.to_string(),
        });
    }
    match v.get("version") {
        Some(serde_json::Value::Number(n)) if n.as_u64() == Some(BUNDLE_VERSION as u64) => {}
        Some(found @ serde_json::Value::Number(_)) => {
            return Err(BundleError::Version {
                found: found.to_string(),
            })
        }
        Some(other) => {
            return Err(BundleError::Manifest(format!(
                "`version` is {other}, not a number"
            )))
        }
        None => return Err(BundleError::Manifest("it has no `version`".into())),
    }
    let m: Manifest =
        serde_json::from_value(v).map_err(|e| BundleError::Manifest(e.to_string()))?;
    check_file_entries(&m.files)?;
    m.config
        .validate()
        .map_err(|e| BundleError::Manifest(e.to_string()))?;
    for c in &m.categories {
        if let Some(cal) = &c.calibration {
            cal.validate().map_err(|e| {
                BundleError::Manifest(format!("calibration of category {:?}: {e}", c.key))
            })?;
        }
    }
    Ok(m)
}

/// Largest file a manifest may declare: shards are at most 64 MiB, so a size near this is a lie
/// that must not size a download buffer.
pub const MAX_FILE_BYTES: u64 = 1 << 30;

/// The listed files, before anything is fetched or read: each a plain relative path (readers join
/// it to the bundle's folder or URL, so `..`, `/etc/…` or `https://…` would reach outside), listed
/// once, at most `MAX_FILE_BYTES`, with a SHA-256 in hex.
fn check_file_entries(files: &[FileEntry]) -> Result<(), BundleError> {
    if files.is_empty() {
        return Err(BundleError::Manifest("it lists no files".into()));
    }
    let mut seen = std::collections::HashSet::new();
    for (i, e) in files.iter().enumerate() {
        let bad = |why: String| BundleError::Manifest(format!("files[{i}]: {why}"));
        if !is_plain_relative_path(&e.file) {
            return Err(bad(format!(
                "file name {:?} is not a plain relative path",
                e.file
            )));
        }
        if !seen.insert(e.file.as_str()) {
            return Err(bad(format!("{} is listed twice", e.file)));
        }
        if e.bytes > MAX_FILE_BYTES {
            return Err(bad(format!(
                "{} declares {} bytes, over the limit of {MAX_FILE_BYTES} bytes per file",
                e.file, e.bytes
            )));
        }
        if e.sha256.len() != 64 || !e.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad(format!("{} has no valid sha256", e.file)));
        }
    }
    Ok(())
}

/// `/`-separated names of ASCII letters, digits, `.`, `_` and `-`, none starting with `.` or `-`.
fn is_plain_relative_path(path: &str) -> bool {
    path.split('/').all(|name| {
        let mut chars = name.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    })
}

fn shard_error(file: &str, reason: impl Into<String>) -> BundleError {
    BundleError::Shard {
        file: file.to_string(),
        reason: reason.into(),
    }
}

fn read_f32(file: &str, name: &str, v: &TensorView) -> Result<Vec<f32>, BundleError> {
    decode_floats(v.dtype(), v.data()).ok_or_else(|| {
        let dtype = v.dtype();
        shard_error(file, format!("tensor `{name}` has dtype {dtype:?}"))
    })
}

/// Decodes the weight shards into f32 tensors under their checkpoint names, one shard at a time.
fn read_weights<F: BundleFiles>(
    manifest: &Manifest,
    files: &mut CheckedFiles<'_, F>,
) -> Result<TensorStore, BundleError> {
    let mut store = TensorStore::default();
    let is_reference = |f: &str| {
        manifest
            .categories
            .iter()
            .any(|c| c.reference.as_ref().is_some_and(|r| r.file == f))
    };
    for entry in manifest
        .files
        .iter()
        .filter(|f| f.file != TEXT_FILE && f.file != VOCAB_FILE && !is_reference(&f.file))
    {
        files.read(&entry.file, |bytes| {
            read_shard(&entry.file, bytes, &mut store)
        })?;
    }
    Ok(store)
}

/// Decodes one weight shard (`file` names it in errors) into `store`: f32/f16 tensors as they
/// are, int8 tensors with their rows' scales from `__scales__`.
pub fn read_shard(file: &str, bytes: &[u8], store: &mut TensorStore) -> Result<(), BundleError> {
    let st = SafeTensors::deserialize(bytes).map_err(|e| shard_error(file, e.to_string()))?;
    let scales = match st.tensor(SCALES) {
        Ok(v) => read_f32(file, SCALES, &v)?,
        Err(_) => Vec::new(),
    };
    let mut tensors = st.tensors();
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    let mut next_scale = 0usize;
    for (name, view) in tensors {
        if name == SCALES {
            continue;
        }
        let shape = view.shape().to_vec();
        let data = if view.dtype() == Dtype::I8 {
            // One scale per row; a 1-D (bias) vector is one row.
            let rows = if shape.len() >= 2 { shape[0] } else { 1 };
            let Some(row_scales) = next_scale
                .checked_add(rows)
                .and_then(|end| scales.get(next_scale..end))
            else {
                return Err(shard_error(
                    file,
                    format!("`{SCALES}` has too few values for int8 tensor `{name}`"),
                ));
            };
            next_scale += rows;
            dequantize_stored_rows(view.data(), row_scales)
        } else {
            read_f32(file, &name, &view)?
        };
        store.insert(name, RawTensor::new(shape, data));
    }
    if next_scale != scales.len() {
        return Err(shard_error(
            file,
            format!(
                "`{SCALES}` has {} values, the int8 tensors use {next_scale}",
                scales.len()
            ),
        ));
    }
    Ok(())
}

/// A loaded bundle: the folded model and the precomputed class embeddings.
pub struct Bundle<B: Backend> {
    pub manifest: Manifest,
    pub model: AcdClip<B>,
    pub text_embeddings: Vec<(String, Tensor<B, 3>)>,
    /// Normal-reference memories by category key, with their `domain_only` flag.
    pub references: Vec<(String, ReferenceMemory, bool)>,
    /// The tokenizer of the bundle's own vocabulary (bundles with a text tower written since it
    /// was added; older ones use the loader's built-in vocabulary where it has one).
    pub tokenizer: Option<ClipTokenizer>,
}

/// The file name of category `index`'s memory (keys may be free text).
pub fn reference_file_name(index: usize, key: &str) -> String {
    let safe: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    format!("reference-{index}-{safe}.safetensors")
}

/// Adds (or replaces) the memory of category `key` to a bundle's manifest; returns the file to
/// write next to it (its size and SHA-256 are in `files`).
pub fn add_reference(
    manifest: &mut Manifest,
    key: &str,
    memory: &ReferenceMemory,
    description: &str,
    domain_only: bool,
) -> Result<(String, Vec<u8>), BundleError> {
    let index = manifest
        .categories
        .iter()
        .position(|c| c.key == key)
        .ok_or_else(|| BundleError::Reference {
            category: key.to_string(),
            file: String::new(),
            reason: format!(
                "the bundle has no such category (it has {})",
                manifest.category_list()
            ),
        })?;
    let file = reference_file_name(index, key);
    let bytes = memory.to_bytes();
    manifest.files.retain(|f| f.file != file);
    manifest.files.push(file_entry(&file, &bytes));
    manifest.categories[index].reference = Some(ReferenceEntry {
        file: file.clone(),
        images: memory.images,
        patches: memory.patches(),
        seed: memory.seed,
        description: description.to_string(),
        domain_only,
    });
    Ok((file, bytes))
}

/// Reads and checks the memories the manifest names.
fn read_references<F: BundleFiles>(
    manifest: &Manifest,
    files: &mut CheckedFiles<'_, F>,
) -> Result<Vec<(String, ReferenceMemory, bool)>, BundleError> {
    let mut out = Vec::new();
    for c in &manifest.categories {
        let Some(r) = &c.reference else { continue };
        let err = |reason: String| BundleError::Reference {
            category: c.key.clone(),
            file: r.file.clone(),
            reason,
        };
        if !manifest.files.iter().any(|f| f.file == r.file) {
            return Err(err(
                "the file is not listed in `files` (no size or SHA-256 to verify)".into(),
            ));
        }
        let memory = files.read(&r.file, |bytes| {
            ReferenceMemory::from_bytes(bytes).map_err(|e| err(e.to_string()))
        })?;
        memory
            .check_fits(&manifest.config, manifest.head())
            .map_err(|e| err(e.to_string()))?;
        out.push((c.key.clone(), memory, r.domain_only));
    }
    Ok(out)
}

/// The precomputed class embeddings of every category, from `text.safetensors`.
fn read_text_embeddings<B: Backend>(
    manifest: &Manifest,
    text_bytes: &[u8],
    device: &B::Device,
) -> Result<Vec<(String, Tensor<B, 3>)>, BundleError> {
    let st =
        SafeTensors::deserialize(text_bytes).map_err(|e| shard_error(TEXT_FILE, e.to_string()))?;
    let (n, d) = manifest.head().class_embedding_shape(&manifest.config);
    let mut text_embeddings = Vec::new();
    for c in &manifest.categories {
        let name = format!("{CATEGORY_PREFIX}{}", c.key);
        let view = st.tensor(&name).map_err(|_| {
            shard_error(TEXT_FILE, format!("no embedding for category {:?}", c.key))
        })?;
        if view.shape() != [n, d, 2] {
            return Err(shard_error(
                TEXT_FILE,
                format!(
                    "`{name}` has shape {:?}, expected {:?}",
                    view.shape(),
                    [n, d, 2]
                ),
            ));
        }
        let data = read_f32(TEXT_FILE, &name, &view)?;
        text_embeddings.push((
            c.key.clone(),
            Tensor::from_data(TensorData::new(data, [n, d, 2]), device),
        ));
    }
    Ok(text_embeddings)
}

/// Verifies (sizes and SHA-256) and loads a bundle from its files (name → bytes).
pub fn load_bundle<B: Backend>(
    manifest: &Manifest,
    files: &HashMap<String, Vec<u8>>,
    device: &B::Device,
) -> Result<Bundle<B>, BundleError> {
    load_bundle_checked(manifest, files, device, FileCheck::Sha256)
}

/// Loads a bundle, checking its files as `check` says; each file is read once, shard by shard.
pub fn load_bundle_checked<B: Backend>(
    manifest: &Manifest,
    files: impl BundleFiles,
    device: &B::Device,
    check: FileCheck,
) -> Result<Bundle<B>, BundleError> {
    let mut files = CheckedFiles::new(manifest, files, check)?;
    let cfg = &manifest.config;
    let mut store = read_weights(manifest, &mut files)?;
    let model = if manifest.head().is_training_free() {
        load_clip_only::<B>(&mut store, cfg, manifest.has_text_tower, device)?
    } else {
        load_acd_clip::<B>(&mut store, cfg, manifest.has_text_tower, device)?.fold()
    };
    let text_embeddings = files.read(TEXT_FILE, |bytes| {
        read_text_embeddings(manifest, bytes, device)
    })?;
    let references = read_references(manifest, &mut files)?;
    let tokenizer = match manifest.files.iter().any(|f| f.file == VOCAB_FILE) {
        true if manifest.has_text_tower => Some(files.read(VOCAB_FILE, |bytes| {
            ClipTokenizer::from_vocab_gz(bytes).map_err(|e| shard_error(VOCAB_FILE, e.to_string()))
        })?),
        _ => None,
    };
    files.finish()?;
    Ok(Bundle {
        manifest: manifest.clone(),
        model,
        text_embeddings,
        references,
        tokenizer,
    })
}

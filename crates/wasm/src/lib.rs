//! The browser shell: a thin wasm-bindgen layer over `acd_core::Detector`
//! (docs/architecture.md §3.3).
//!
//! JS API (built with `wasm-bindgen --target web`, see `scripts/build-wasm`):
//!
//! ```ts
//! import init, { AcdModel, parseManifest } from "./pkg/acd_wasm.js";
//! await init();
//! const { files } = parseManifest(manifestJson); // checked once, here: the files to fetch
//! const model = await AcdModel.load(manifestJson, fileNames, fileBytes, "webgpu"); // or "cpu"
//! const info = model.info();
//! const det = await model.detect(imageBytes, info.categories[0]);
//! // few-shot: a memory of normal images, kept by the page (IndexedDB) and restored after a reload
//! const bytes = await model.buildReference([normal1, normal2], info.categories[0]);
//! model.setReference(info.categories[0], bytes);
//! model.clearReference(info.categories[0]);
//! model.free();
//! ```
//!
//! Rules kept here:
//! - Rust panics are reported on the console (`console_error_panic_hook`, installed by the first
//!   `load`/`detect`); they cannot be caught in wasm32 (panic = abort), so nothing here may panic on
//!   user input;
//! - every failure reaches JS as a rejected promise (or a thrown `Error`) whose message is the core
//!   error's message; nothing in this file unwraps user input;
//! - the WebGPU device is initialised once per page (Burn 0.21 refuses a second registration) and
//!   only after `navigator.gpu.requestAdapter()` returned an adapter, because Burn 0.21 panics (an
//!   unrecoverable `unreachable` trap in wasm) when it finds none;
//! - `detect()` calls on one model run one after the other (each waits for the previous one), so a
//!   page may fire several without awaiting; `info()` and `categories()` never wait.

#[cfg(feature = "webgpu")]
mod webgpu;

use std::cell::RefCell;
use std::rc::Rc;

use acd_core::reference::{
    BuildOptions, ReferenceInfo, ReferenceMemory, ReferenceSource, MAX_PAGE_REFERENCE_IMAGES,
};
use acd_core::weights::bundle::{
    load_bundle_checked, parse_manifest, BundleFiles, FileCheck, Manifest,
};
use acd_core::{Detection, Detector};
use burn::backend::flex::FlexDevice;
use burn::backend::Flex;
#[cfg(feature = "webgpu")]
use burn::backend::Wgpu;
use js_sys::{Array, Float32Array, Function, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{future_to_promise, JsFuture};

// The result types, declared once for the module and the page (web/src/acd-types.ts).
#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = include_str!("../../../web/src/acd-types.ts");

fn js_error(message: impl AsRef<str>) -> JsValue {
    js_sys::Error::new(message.as_ref()).into()
}

// ---- clock ---------------------------------------------------------------------------------

thread_local! {
    /// `performance` and its `now` (window and worker scopes); `None` falls back to `Date.now()`.
    static PERF: Option<(JsValue, Function)> = {
        let perf = Reflect::get(&js_sys::global(), &"performance".into()).ok().filter(|p| p.is_object());
        perf.and_then(|p| {
            let now = Reflect::get(&p, &"now".into()).ok()?.dyn_into::<Function>().ok()?;
            Some((p, now))
        })
    };
}

/// Milliseconds, for the core's timings.
fn now_ms() -> f64 {
    PERF.with(|p| match p {
        Some((perf, now)) => now.call0(perf).ok().and_then(|v| v.as_f64()),
        None => None,
    })
    .unwrap_or_else(js_sys::Date::now)
}

// ---- the manifest --------------------------------------------------------------------------

/// The bundle's manifest checked by the code that will load it (format, version, config, the file
/// list: plain relative paths listed once, sizes, hashes), reduced to what the page needs to fetch
/// the files and name the categories: an `AcdManifest`. Throws an `Error` naming the problem. The
/// page checks nothing of it itself, so the manifest is validated in one place.
#[wasm_bindgen(js_name = parseManifest, unchecked_return_type = "AcdManifest")]
pub fn parse_manifest_js(
    #[wasm_bindgen(js_name = manifestJson)] manifest_json: String,
) -> Result<JsValue, JsValue> {
    let m = parse_manifest(&manifest_json).map_err(|e| js_error(e.to_string()))?;
    let o = Object::new();
    set(&o, "name", m.name.as_str());
    let files: Array = m
        .files
        .iter()
        .map(|f| {
            let e = Object::new();
            set(&e, "file", f.file.as_str());
            set(&e, "bytes", f.bytes as f64);
            set(&e, "sha256", f.sha256.to_ascii_lowercase());
            JsValue::from(e)
        })
        .collect();
    set(&o, "files", files);
    let categories: Array = m
        .categories
        .iter()
        .map(|c| {
            let e = Object::new();
            set(&e, "key", c.key.as_str());
            set(&e, "realName", c.real_name.as_str());
            JsValue::from(e)
        })
        .collect();
    set(&o, "categories", categories);
    Ok(o.into())
}

// ---- before a large download -----------------------------------------------------------

/// One detection's arithmetic for the bundle that `manifest_json` describes (acd_core::cost) and
/// this device's matrix-product speed on `backend` ("cpu", "webgpu" or "webgpu-f16"), measured now: what the
/// page says before it downloads a large bundle. Resolves to an `AcdEstimate`.
#[wasm_bindgen(js_name = estimateDetection)]
pub fn estimate_detection(manifest_json: String, backend: String) -> Promise {
    future_to_promise(async move {
        let manifest = parse_manifest(&manifest_json).map_err(|e| js_error(e.to_string()))?;
        let flop = acd_core::cost::detection_flop(&manifest.config);
        let speed = match backend.as_str() {
            "cpu" => acd_core::cost::matmul_flop_per_second::<Flex>(&FlexDevice, now_ms).await,
            #[cfg(feature = "webgpu")]
            "webgpu" | "webgpu-f16" => {
                let device = webgpu::webgpu_device(backend == "webgpu-f16").await?;
                acd_core::cost::matmul_flop_per_second::<Wgpu>(&device, now_ms).await
            }
            other => {
                return Err(js_error(format!(
                    "estimateDetection: no backend {other:?} in this module (cpu{})",
                    if cfg!(feature = "webgpu") {
                        ", webgpu, webgpu-f16"
                    } else {
                        ""
                    }
                )))
            }
        }
        .map_err(|e| js_error(e.to_string()))?;
        let out = Object::new();
        set(&out, "gflop", flop / 1e9);
        set(&out, "gflopPerSecond", speed / 1e9);
        set(&out, "ms", flop / speed * 1e3);
        Ok(out.into())
    })
}

// ---- the model -----------------------------------------------------------------------------

enum Engine {
    #[cfg(feature = "webgpu")]
    Gpu(Detector<Wgpu>),
    Cpu(Detector<Flex>),
}

/// Runs the same code on either backend's detector.
macro_rules! on_engine {
    ($engine:expr, |$d:ident| $body:expr) => {
        match $engine {
            #[cfg(feature = "webgpu")]
            Engine::Gpu($d) => $body,
            Engine::Cpu($d) => $body,
        }
    };
}

impl Engine {
    async fn detect(&mut self, image: &[u8], category: &str) -> Result<Detection, acd_core::Error> {
        on_engine!(self, |d| d.detect_async(image, category).await)
    }

    /// Builds a memory from encoded normal images and makes it the category's active memory.
    async fn build_reference(
        &mut self,
        images: &[Vec<u8>],
        category: &str,
    ) -> Result<(ReferenceMemory, ReferenceInfo), String> {
        let options = BuildOptions::default();
        on_engine!(self, |d| {
            let mut features = Vec::with_capacity(images.len());
            for (i, bytes) in images.iter().enumerate() {
                let f = d
                    .reference_features_async(bytes, options.features)
                    .await
                    .map_err(|e| format!("reference image {}: {e}", i + 1))?;
                features.push(f);
            }
            let memory =
                ReferenceMemory::build(&features, d.grid(), &options).map_err(|e| e.to_string())?;
            let info = d
                .set_reference(category, memory.clone(), ReferenceSource::User)
                .map_err(|e| e.to_string())?;
            Ok((memory, info))
        })
    }

    fn set_reference(
        &mut self,
        category: &str,
        memory: ReferenceMemory,
    ) -> Result<ReferenceInfo, acd_core::Error> {
        on_engine!(self, |d| d.set_reference(
            category,
            memory,
            ReferenceSource::User
        ))
    }

    fn clear_reference(&mut self, category: &str) {
        on_engine!(self, |d| d.clear_reference(category))
    }

    fn reference_info(&self, category: &str) -> Option<ReferenceInfo> {
        on_engine!(self, |d| d.reference(category).map(|r| r.info.clone()))
    }
}

/// A loaded ACD-CLIP bundle on one backend.
#[wasm_bindgen]
pub struct AcdModel {
    engine: Rc<RefCell<Engine>>,
    /// The last `detect()` promise: the next one waits for it (one detection at a time).
    tail: RefCell<Option<Promise>>,
    manifest: Manifest,
    backend: &'static str,
    /// The model computes in f16 (WebGPU with `shader-f16`, when asked); the map stage is f32.
    f16: bool,
}

/// What a model computes in, as `info().arithmetic` and the messages name it.
pub(crate) fn arithmetic_name(f16: bool) -> &'static str {
    if f16 {
        "f16"
    } else {
        "f32"
    }
}

fn set(obj: &Object, key: &str, value: impl Into<JsValue>) {
    // Setting a plain property on a fresh object cannot fail.
    let _ = Reflect::set(obj, &key.into(), &value.into());
}

fn string_array(items: impl IntoIterator<Item = String>) -> Array {
    items.into_iter().map(JsValue::from).collect()
}

fn f32_arrays(parts: &[Vec<f32>]) -> Array {
    parts
        .iter()
        .map(|p| JsValue::from(Float32Array::from(p.as_slice())))
        .collect()
}

fn reference_to_js(r: &ReferenceInfo) -> JsValue {
    let o = Object::new();
    set(&o, "images", r.images as f64);
    let patches: Array = r.patches.iter().map(|&p| JsValue::from(p as f64)).collect();
    set(&o, "patches", patches);
    set(
        &o,
        "source",
        match r.source {
            ReferenceSource::Bundle => "bundle",
            ReferenceSource::User => "page",
        },
    );
    set(&o, "domainOnly", r.domain_only);
    o.into()
}

fn detection_to_js(d: &Detection) -> JsValue {
    let o = Object::new();
    set(&o, "score", d.score as f64);
    set(&o, "pCls", d.p_cls as f64);
    set(&o, "width", d.width as f64);
    set(&o, "height", d.height as f64);
    set(&o, "map", Float32Array::from(d.image_map.as_slice()));
    set(&o, "mapSize", d.map_size as f64);
    set(&o, "modelMap", Float32Array::from(d.map.as_slice()));
    set(&o, "grid", d.grid as f64);
    set(&o, "groupMaps", f32_arrays(&d.group_maps));
    set(&o, "gateWeights", f32_arrays(&d.gate_weights));
    let t = Object::new();
    set(&t, "decodeMs", d.timings.decode_ms);
    set(&t, "textMs", d.timings.text_ms);
    set(&t, "forwardMs", d.timings.forward_ms);
    set(&t, "postprocessMs", d.timings.postprocess_ms);
    set(&o, "timings", t);
    set(
        &o,
        "reference",
        d.reference
            .as_ref()
            .map(reference_to_js)
            .unwrap_or(JsValue::NULL),
    );
    let domain = match &d.domain {
        Some(c) => {
            let v = Object::new();
            set(&v, "farFraction", c.far_fraction as f64);
            set(&v, "limit", c.limit as f64);
            set(&v, "outside", c.outside);
            v.into()
        }
        None => JsValue::NULL,
    };
    set(&o, "domain", domain);
    let t = Object::new();
    set(&t, "image", d.threshold.image as f64);
    set(&t, "pixel", d.threshold.pixel as f64);
    set(&t, "calibrated", d.threshold.calibrated);
    set(&t, "source", d.threshold.source.as_str());
    set(&o, "threshold", t);
    o.into()
}

/// The files the page passed to `AcdModel.load`, still in JavaScript's memory.
struct PageFiles {
    names: Vec<String>,
    bytes: Vec<Uint8Array>,
}

impl PageFiles {
    fn get(&self, file: &str) -> Option<&Uint8Array> {
        let i = self.names.iter().position(|n| n == file)?;
        self.bytes.get(i)
    }
}

impl BundleFiles for PageFiles {
    fn size(&self, file: &str) -> Option<u64> {
        self.get(file).map(|b| u64::from(b.length()))
    }

    fn read<R>(&mut self, file: &str, read: impl FnOnce(&[u8]) -> R) -> Option<R> {
        self.get(file).map(|b| read(&b.to_vec()))
    }
}

impl AcdModel {
    fn new(engine: Engine, manifest: Manifest, backend: &'static str, f16: bool) -> Self {
        AcdModel {
            engine: Rc::new(RefCell::new(engine)),
            tail: RefCell::new(None),
            manifest,
            backend,
            f16,
        }
    }
}

#[wasm_bindgen]
impl AcdModel {
    /// Verifies and loads a bundle. `backend`: "webgpu" | "webgpu-f16" (the model in f16: half the
    /// GPU memory; needs the adapter's `shader-f16`) | "cpu". Rejects with an `Error` whose
    /// message names the problem (bad manifest, missing file, wrong size or checksum, no WebGPU
    /// adapter: "WebGPU is not available: no adapter", so that the page can fall back to "cpu").
    /// `hashesChecked: true` says the caller has checked every file's SHA-256 against this manifest
    /// (the page's worker does while downloading); sizes are checked either way.
    pub async fn load(
        #[wasm_bindgen(js_name = manifestJson)] manifest_json: String,
        #[wasm_bindgen(js_name = fileNames)] file_names: Vec<String>,
        #[wasm_bindgen(js_name = fileBytes)] file_bytes: Vec<Uint8Array>,
        backend: String,
        #[wasm_bindgen(js_name = hashesChecked)] hashes_checked: Option<bool>,
    ) -> Result<AcdModel, JsValue> {
        console_error_panic_hook::set_once();
        // The page's worker checks every file's SHA-256 (WebCrypto) as it downloads: no second pass.
        let check = if hashes_checked == Some(true) {
            FileCheck::SizeOnly
        } else {
            FileCheck::Sha256
        };
        let (backend, f16): (&'static str, bool) =
            match backend.trim().to_ascii_lowercase().as_str() {
                "webgpu" | "gpu" | "wgpu" => ("webgpu", false),
                "webgpu-f16" => ("webgpu", true),
                "cpu" | "ndarray" => ("cpu", false),
                other => {
                    return Err(js_error(format!(
                        "unknown backend {other:?} (expected \"webgpu\", \"webgpu-f16\" or \"cpu\")"
                    )))
                }
            };
        if file_names.len() != file_bytes.len() {
            return Err(js_error(format!(
                "{} file names but {} file contents were given",
                file_names.len(),
                file_bytes.len()
            )));
        }
        let manifest = parse_manifest(&manifest_json).map_err(|e| js_error(e.to_string()))?;
        // Get the device before copying the files in: a missing adapter fails fast.
        #[cfg(feature = "webgpu")]
        let gpu = if backend == "webgpu" {
            Some(webgpu::webgpu_device(f16).await?)
        } else {
            None
        };
        #[cfg(not(feature = "webgpu"))]
        if backend == "webgpu" {
            return Err(js_error(
                "this model runtime is the multi-threaded CPU build, without WebGPU (load www/pkg for WebGPU)",
            ));
        }
        // Each file is copied into the module's memory when it is read, and freed after.
        let files = PageFiles {
            names: file_names,
            bytes: file_bytes,
        };
        #[cfg(feature = "webgpu")]
        if let Some(device) = gpu {
            let bundle = load_bundle_checked::<Wgpu>(&manifest, files, &device, check)
                .map_err(|e| js_error(e.to_string()))?;
            let engine = Engine::Gpu(Detector::from_bundle(bundle, device).with_clock(now_ms));
            return Ok(AcdModel::new(engine, manifest, backend, f16));
        }
        let device = FlexDevice;
        let bundle = load_bundle_checked::<Flex>(&manifest, files, &device, check)
            .map_err(|e| js_error(e.to_string()))?;
        let engine = Engine::Cpu(Detector::from_bundle(bundle, device).with_clock(now_ms));
        Ok(AcdModel::new(engine, manifest, backend, false))
    }

    /// The bundle's description and the model's shape.
    #[wasm_bindgen(unchecked_return_type = "AcdInfo")]
    pub fn info(&self) -> JsValue {
        let m = &self.manifest;
        let c = &m.config;
        let v = &c.clip.vision;
        let o = Object::new();
        set(&o, "name", m.name.as_str());
        set(&o, "description", m.description.as_str());
        set(
            &o,
            "trainedOn",
            m.trained_on
                .as_deref()
                .map(JsValue::from)
                .unwrap_or(JsValue::NULL),
        );
        set(&o, "untrained", m.untrained);
        set(&o, "backend", self.backend);
        set(&o, "arithmetic", arithmetic_name(self.f16));
        set(&o, "imageSize", v.image_size as f64);
        set(&o, "mapSize", c.map_size as f64);
        set(&o, "nGroups", c.adapter.n_groups as f64);
        set(&o, "grid", v.grid() as f64);
        let precision = serde_json::to_value(m.precision)
            .ok()
            .and_then(|p| p.as_str().map(String::from))
            .unwrap_or_else(|| format!("{:?}", m.precision).to_lowercase());
        set(&o, "precision", precision);
        set(&o, "categories", self.categories());
        set(&o, "hasTextTower", m.has_text_tower);
        set(&o, "trainingFree", m.training_free);
        set(
            &o,
            "backbone",
            format!(
                "ViT width {} · {} layers · patch {} · {} px",
                v.width, v.layers, v.patch_size, v.image_size
            ),
        );
        let references = Object::new();
        for c in &m.categories {
            if let Some(r) = &c.reference {
                let info = ReferenceInfo {
                    images: r.images,
                    patches: r.patches.clone(),
                    source: ReferenceSource::Bundle,
                    domain_only: r.domain_only,
                    features: Default::default(),
                };
                set(&references, &c.key, reference_to_js(&info));
            }
        }
        set(&o, "references", references);
        let calibrations = Object::new();
        for c in &m.categories {
            if let Some(k) = &c.calibration {
                let v = Object::new();
                set(&v, "imageThreshold", k.image_threshold as f64);
                set(&v, "pixelThreshold", k.pixel_threshold as f64);
                let method = serde_json::to_value(k.method)
                    .ok()
                    .and_then(|m| m.as_str().map(String::from))
                    .unwrap_or_default();
                set(&v, "method", method);
                set(
                    &v,
                    "targetFpr",
                    k.target_fpr.map(JsValue::from).unwrap_or(JsValue::NULL),
                );
                set(&v, "normalImages", k.normal_images as f64);
                set(&v, "anomalousImages", k.anomalous_images as f64);
                set(&v, "withReference", k.with_reference);
                set(&v, "source", k.describe());
                set(&calibrations, &c.key, v);
            }
        }
        set(&o, "calibrations", calibrations);
        o.into()
    }

    /// Builds a normal-reference memory for `category` from 1–16 encoded normal images, makes it
    /// the category's active memory (used from the next detection on), and resolves to its bytes
    /// for the page to keep (IndexedDB) and give back to `setReference` after a reload. Runs in
    /// order with `detect()` calls. Rejects with an `Error` naming a bad image or count.
    #[wasm_bindgen(js_name = buildReference, unchecked_return_type = "Promise<Uint8Array>")]
    pub fn build_reference(&self, images: Vec<Uint8Array>, category: String) -> Promise {
        console_error_panic_hook::set_once();
        let images: Vec<Vec<u8>> = images.iter().map(|b| b.to_vec()).collect();
        let previous = self.tail.borrow_mut().take();
        let engine = Rc::clone(&self.engine);
        let promise = future_to_promise(async move {
            if let Some(p) = previous {
                let _ = JsFuture::from(p).await;
            }
            if images.is_empty() || images.len() > MAX_PAGE_REFERENCE_IMAGES {
                return Err(js_error(format!(
                    "{} reference images given: give 1 to {MAX_PAGE_REFERENCE_IMAGES} normal images",
                    images.len()
                )));
            }
            let mut engine = engine
                .try_borrow_mut()
                .map_err(|_| js_error("the model is busy with another detection"))?;
            let (memory, _) = engine
                .build_reference(&images, &category)
                .await
                .map_err(js_error)?;
            Ok(Uint8Array::from(memory.to_bytes().as_slice()).into())
        });
        *self.tail.borrow_mut() = Some(promise.clone());
        promise
    }

    /// Restores a memory made by `buildReference` as `category`'s active memory. Throws an `Error`
    /// naming the problem when the bytes are not a memory for this model (then drop them).
    #[wasm_bindgen(js_name = setReference, unchecked_return_type = "AcdReferenceInfo")]
    pub fn set_reference(&self, category: String, memory: Vec<u8>) -> Result<JsValue, JsValue> {
        let memory = ReferenceMemory::from_bytes(&memory).map_err(|e| js_error(e.to_string()))?;
        let mut engine = self
            .engine
            .try_borrow_mut()
            .map_err(|_| js_error("the model is busy with a detection; try again after it"))?;
        let info = engine
            .set_reference(&category, memory)
            .map_err(|e| js_error(e.to_string()))?;
        Ok(reference_to_js(&info))
    }

    /// Forgets the page's memory of `category`; the bundle's own memory (if any) is active again.
    #[wasm_bindgen(js_name = clearReference)]
    pub fn clear_reference(&self, category: String) -> Result<(), JsValue> {
        let mut engine = self
            .engine
            .try_borrow_mut()
            .map_err(|_| js_error("the model is busy with a detection; try again after it"))?;
        engine.clear_reference(&category);
        Ok(())
    }

    /// The active memory of `category`, or null.
    #[wasm_bindgen(js_name = referenceInfo, unchecked_return_type = "AcdReferenceInfo | null")]
    pub fn reference_info(&self, category: String) -> Result<JsValue, JsValue> {
        let engine = self
            .engine
            .try_borrow()
            .map_err(|_| js_error("the model is busy with a detection; try again after it"))?;
        Ok(engine
            .reference_info(&category)
            .as_ref()
            .map(reference_to_js)
            .unwrap_or(JsValue::NULL))
    }

    /// The bundle's categories (keys accepted by `detect`), in manifest order.
    #[wasm_bindgen(unchecked_return_type = "string[]")]
    pub fn categories(&self) -> Array {
        string_array(self.manifest.categories.iter().map(|c| c.key.clone()))
    }

    /// Detects anomalies in an encoded image (PNG, JPEG, BMP, GIF, WebP, TIFF). Calls on one model
    /// run in order. Rejects with an `Error` naming the problem (undecodable image, unknown category…).
    #[wasm_bindgen(unchecked_return_type = "Promise<AcdDetection>")]
    pub fn detect(
        &self,
        #[wasm_bindgen(js_name = imageBytes)] image_bytes: Vec<u8>,
        category: String,
    ) -> Promise {
        console_error_panic_hook::set_once();
        let previous = self.tail.borrow_mut().take();
        let engine = Rc::clone(&self.engine);
        let promise = future_to_promise(async move {
            if let Some(p) = previous {
                // The previous call's outcome belongs to its caller.
                let _ = JsFuture::from(p).await;
            }
            // Calls are chained, so this borrow is the only one while the detection runs.
            let mut engine = engine
                .try_borrow_mut()
                .map_err(|_| js_error("the model is busy with another detection"))?;
            let detection = engine
                .detect(&image_bytes, &category)
                .await
                .map_err(|e| js_error(e.to_string()))?;
            Ok(detection_to_js(&detection))
        });
        *self.tail.borrow_mut() = Some(promise.clone());
        promise
    }
}

// `initThreadPool(n)`: starts n Web Workers sharing this module's memory, for rayon (burn-flex's
// parallel matmul, attention and element-wise ops). Await it once after `init()`.
#[cfg(feature = "threads")]
pub use wasm_bindgen_rayon::init_thread_pool;

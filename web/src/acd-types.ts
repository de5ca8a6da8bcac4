// The types of what the wasm module returns: declared once, here. crates/wasm includes this file
// verbatim in the module's own declarations (www/pkg/acd_wasm.d.ts, a wasm-bindgen
// typescript_custom_section), and the page imports them (protocol.ts gives them the page's names).
// So: declarations only, no imports.
/** What `AcdModel.info()` returns. */
export interface AcdInfo {
  name: string;
  description: string;
  trainedOn: string | null;
  /** Random or untrained weights: never present such a model as a detector. */
  untrained: boolean;
  backend: "webgpu" | "cpu";
  /** What the model computes in: "f16" on WebGPU when asked (`?precision=f16`) and the adapter has
   * `shader-f16`, else "f32"; the map and the score are computed in f32 either way. */
  arithmetic: "f16" | "f32";
  /** Side of the square model input (pixels). */
  imageSize: number;
  /** Side of the model-size anomaly map. */
  mapSize: number;
  nGroups: number;
  /** Patches per side of the vision grid. */
  grid: number;
  precision: string;
  categories: string[];
  hasTextTower: boolean;
  /** CLIP alone, no adapters (`acd export --training-free`). */
  trainingFree: boolean;
  /** e.g. "ViT width 1024 · 24 layers · patch 14 · 518 px" */
  backbone: string;
  /** The bundle's own normal-reference memories by category. */
  references: Record<string, AcdReferenceInfo>;
  /** The bundle's calibrated thresholds by category (`acd calibrate`). */
  calibrations: Record<string, AcdCalibration>;
}

/** A normal-reference memory (few-shot mode). */
export interface AcdReferenceInfo {
  /** Normal images it was built from. */
  images: number;
  /** Patches kept per level (after the coreset). */
  patches: number[];
  /** "bundle": shipped in the model bundle; "page": built in this browser from the user's images. */
  source: "bundle" | "page";
  /** Used for the out-of-domain check only: the score and map are the zero-shot ones. */
  domainOnly: boolean;
}

/** The out-of-domain check of one image against the category's memory. */
export interface AcdDomainCheck {
  /** Fraction of the image's patches farther from every reference patch than the memory's normal limit. */
  farFraction: number;
  /** Above this fraction the image is outside what the model knows. */
  limit: number;
  /** farFraction > limit: say "outside what this model knows for <category>" instead of a verdict. */
  outside: boolean;
}

/** What `AcdModel.detect()` resolves to. */
export interface AcdDetection {
  /** Fused image score in [0, 1]. */
  score: number;
  /** Classifier probability before fusion with the map maximum. */
  pCls: number;
  width: number;
  height: number;
  /** Abnormal probability at the image's own size, width × height, row-major. */
  map: Float32Array;
  mapSize: number;
  /** The same map at model size, mapSize², row-major. */
  modelMap: Float32Array;
  grid: number;
  /** Per group: abnormal probability at grid size, grid², row-major. */
  groupMaps: Float32Array[];
  /** Per group: gate weights N × 2, row-major [level][normal, abnormal]. */
  gateWeights: Float32Array[];
  timings: { decodeMs: number; textMs: number; forwardMs: number; postprocessMs: number };
  /** The memory used for this detection (its score and map include it unless domainOnly), or null. */
  reference: AcdReferenceInfo | null;
  /** The out-of-domain check; null when the category has no memory (nothing to compare with). */
  domain: AcdDomainCheck | null;
  /** The threshold to judge the score and outline the map by, and where it came from. */
  threshold: AcdThreshold;
}

/** A decision threshold: calibrated (`acd calibrate`) when the calibration holds for the memory in use. */
export interface AcdThreshold {
  /** Image score at or above which the image is anomalous. */
  image: number;
  /** Map value at or above which a pixel is inside the outline. */
  pixel: number;
  calibrated: boolean;
  /** In words, e.g. "calibrated on 200 normal images at a 1% false-positive rate" or "default 0.5, not calibrated". */
  source: string;
}

/** A category's calibration stored in the bundle. */
export interface AcdCalibration {
  imageThreshold: number;
  pixelThreshold: number;
  /** "target_fpr" | "f1_max" */
  method: string;
  targetFpr: number | null;
  normalImages: number;
  anomalousImages: number;
  /** Calibrated with the bundle's own reference memory (it holds only while that memory is in use). */
  withReference: boolean;
  /** In words. */
  source: string;
}

/** What `parseManifest(manifestJson)` returns: the manifest checked by the module that loads the
 * bundle (format, version, config, file list), reduced to what the page needs before loading. */
export interface AcdManifest {
  name: string;
  /** The files to fetch, in manifest order. */
  files: AcdManifestFile[];
  categories: { key: string; realName: string }[];
}

/** One bundle file: a plain relative path (no `..`, no scheme, no leading `/`), listed once. */
export interface AcdManifestFile {
  file: string;
  /** At most 1 GiB (shards are ≤ 64 MiB). */
  bytes: number;
  /** SHA-256, lower-case hex. */
  sha256: string;
}

/** `estimateDetection(manifestJson, backend)`: one detection's arithmetic (acd_core::cost) and this
 * device's speed on the backend, measured just now with a short matrix product. */
export interface AcdEstimate {
  /** FLOP of one detection, in 10⁹ */
  gflop: number;
  /** measured matrix-product speed, 10⁹ FLOP per second */
  gflopPerSecond: number;
  /** gflop / gflopPerSecond, in milliseconds: a lower bound (the other operations add ~10–30 %) */
  ms: number;
}

// Messages between the page and the model worker (transformers.js style):
//   page → worker: load, detect, buildReference, setReference, clearReference
//   worker → page: progress*, notice*, ready | error(stage "load"); then per detect: result | error(stage "detect");
//                  per reference request: reference | error(stage "reference")
// Everything crossing the boundary is checked with the guards below, so a malformed message is
// reported instead of crashing either side.
//
// The types of the wasm module's results are declared once, in acd-types.ts (which crates/wasm also
// puts into www/pkg/acd_wasm.d.ts); the page's names for them (ModelInfo, Detection, …) follow.

import type {
  AcdCalibration,
  AcdDetection,
  AcdDomainCheck,
  AcdEstimate,
  AcdInfo,
  AcdReferenceInfo,
  AcdThreshold,
} from "./acd-types";

/** What the page asks for: "auto" tries WebGPU and falls back to the CPU, the others are strict. */
export type BackendRequest = "auto" | "webgpu" | "cpu";
export type Backend = "webgpu" | "cpu";

/** `AcdModel.info()`; the fields added since the first module are optional, so that an older www/pkg
 * still loads (the guards below and the page treat them as absent). */
export type ModelInfo = Omit<AcdInfo, "backend" | "arithmetic" | "trainingFree" | "references" | "calibrations"> & {
  backend: Backend;
} & Partial<Pick<AcdInfo, "arithmetic" | "trainingFree" | "references" | "calibrations">>;
export type Threshold = AcdThreshold;
export type Calibration = AcdCalibration;
/** `domainOnly` absent (older modules) means false. */
export type ReferenceInfo = Omit<AcdReferenceInfo, "domainOnly"> & Partial<Pick<AcdReferenceInfo, "domainOnly">>;
export type DomainCheck = AcdDomainCheck;
export type DetectionEstimate = AcdEstimate;
/** `AcdModel.detect()`; `reference`, `domain` and `threshold` are absent in older modules. */
export type Detection = Omit<AcdDetection, "reference" | "domain" | "threshold"> & {
  reference?: ReferenceInfo | null;
  domain?: DomainCheck | null;
  threshold?: Threshold;
};

export interface CategoryInfo {
  key: string;
  realName: string;
}

export type LoadPhase = "runtime" | "manifest" | "download" | "init";

export interface LoadMsg {
  type: "load";
  /** Absolute URL of the bundle folder, ending in "/". */
  modelUrl: string;
  /** Absolute URL of acd_wasm.js. */
  pkgUrl: string;
  /** Absolute URL of the multi-threaded CPU module's acd_wasm.js (www/pkg-threads), used for the CPU
   * when the page is cross-origin isolated. */
  pkgThreadsUrl?: string;
  backend: BackendRequest;
  /** Run the model in f16 on WebGPU where the adapter has `shader-f16` (`?precision=f16`). */
  gpuF16?: boolean;
  /** Set when the page restarts the worker on the CPU after WebGPU broke it: shown as the reason. */
  fallbackReason?: string;
  /** Ask the page (confirmDownload) before downloading more than this many bytes; absent: never. */
  confirmAboveBytes?: number;
}

/** The load error's message when the page declined the download. */
export const DOWNLOAD_DECLINED = "the download was declined";

/** The page's answer to confirmDownload. */
export interface DownloadDecisionMsg {
  type: "downloadDecision";
  proceed: boolean;
}

export interface DetectMsg {
  type: "detect";
  id: number;
  image: ArrayBuffer;
  category: string;
}

/** Build a reference memory from 1–16 encoded normal images; it becomes the category's active memory. */
export interface BuildReferenceMsg {
  type: "buildReference";
  id: number;
  category: string;
  images: ArrayBuffer[];
}

/** Restore a memory serialized by an earlier build (kept by the page in IndexedDB). */
export interface SetReferenceMsg {
  type: "setReference";
  id: number;
  category: string;
  memory: ArrayBuffer;
}

/** Forget the page's memory of a category (the bundle's own, if any, is active again). */
export interface ClearReferenceMsg {
  type: "clearReference";
  id: number;
  category: string;
}

export type ReferenceRequest = BuildReferenceMsg | SetReferenceMsg | ClearReferenceMsg;
export type PageToWorker = LoadMsg | DownloadDecisionMsg | DetectMsg | ReferenceRequest;

/** Most images one reference memory is built from. */
export const MAX_REFERENCE_IMAGES = 16;

export interface ProgressMsg {
  type: "progress";
  phase: LoadPhase;
  /** bytes of weights available (downloaded or from the cache) */
  loaded: number;
  total: number;
  /** bytes of `loaded` that came from the Cache API */
  fromCache: number;
  filesDone: number;
  filesTotal: number;
  /** the file being fetched, if any */
  file?: string;
}

export interface NoticeMsg {
  type: "notice";
  message: string;
}

/** Before a large download: how much is not cached yet, and how long a detection will take here
 * (null when the module could not measure it). The worker waits for a DownloadDecisionMsg. */
export interface ConfirmDownloadMsg {
  type: "confirmDownload";
  /** bytes to download (files not in the Cache API) */
  bytes: number;
  /** the whole bundle */
  totalBytes: number;
  backend: Backend;
  /** the CPU path's threads (null on WebGPU) */
  threads: number | null;
  estimate: DetectionEstimate | null;
}

export interface ReadyMsg {
  type: "ready";
  info: ModelInfo;
  categories: CategoryInfo[];
  backend: Backend;
  /** Why the CPU is used when WebGPU was not (null when WebGPU runs, or nobody asked for it). */
  fallbackReason: string | null;
  /** e.g. "google / swiftshader (fallback adapter)" */
  adapter: string | null;
  /** The CPU path's threads, and why there is only one when there is (null on WebGPU). */
  cpu: CpuPath | null;
  timings: { runtimeMs: number; downloadMs: number; initMs: number; totalMs: number };
  cache: { filesFromCache: number; filesFetched: number; bytesFetched: number; cacheName: string | null };
  /** Identity of the bundle for the page's stored memories: manifest name + SHA-256 of its first file. */
  bundle: { name: string; sha256: string };
}

export interface CpuPath {
  threads: number;
  /** Why the single-threaded module runs, e.g. "this page is not cross-origin isolated …". */
  singleThreadReason: string | null;
}

export interface ResultMsg {
  type: "result";
  id: number;
  detection: Detection;
  /** time inside the worker, detect call to result */
  workerMs: number;
}

/** Answer to a reference request: the category's active memory afterwards. */
export interface ReferenceMsg {
  type: "reference";
  id: number;
  category: string;
  /** the active memory of the category now (after a clear: the bundle's own, or null) */
  info: ReferenceInfo | null;
  /** buildReference only: the serialized memory, for the page to store */
  memory?: ArrayBuffer;
}

export interface ErrorMsg {
  type: "error";
  /** the detect or reference request id, null for load errors */
  id: number | null;
  stage: "load" | "detect" | "reference" | "protocol";
  message: string;
  /** the worker cannot continue (a wasm trap): the page should start a new one */
  fatal: boolean;
  /** set when a WebGPU failure should be retried on the CPU in a fresh worker */
  retryOnCpu?: string;
}

export type WorkerToPage = ProgressMsg | NoticeMsg | ConfirmDownloadMsg | ReadyMsg | ResultMsg | ReferenceMsg | ErrorMsg;

// ---- guards ----------------------------------------------------------------------------------

const isObj = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null;
const isNum = (x: unknown): x is number => typeof x === "number" && Number.isFinite(x);
const isStr = (x: unknown): x is string => typeof x === "string";
const isF32s = (x: unknown): x is Float32Array[] => Array.isArray(x) && x.every((a) => a instanceof Float32Array);

export function isBackendRequest(x: unknown): x is BackendRequest {
  return x === "auto" || x === "webgpu" || x === "cpu";
}

export function isPageToWorker(x: unknown): x is PageToWorker {
  if (!isObj(x)) return false;
  if (x.type === "load") {
    return (
      isStr(x.modelUrl) &&
      isStr(x.pkgUrl) &&
      (x.pkgThreadsUrl === undefined || isStr(x.pkgThreadsUrl)) &&
      isBackendRequest(x.backend) &&
      (x.gpuF16 === undefined || typeof x.gpuF16 === "boolean") &&
      (x.fallbackReason === undefined || isStr(x.fallbackReason)) &&
      (x.confirmAboveBytes === undefined || (isNum(x.confirmAboveBytes) && x.confirmAboveBytes >= 0))
    );
  }
  if (x.type === "downloadDecision") return typeof x.proceed === "boolean";
  if (x.type === "detect") {
    return isNum(x.id) && x.image instanceof ArrayBuffer && isStr(x.category);
  }
  if (x.type === "buildReference") {
    return isNum(x.id) && isStr(x.category) && Array.isArray(x.images) && x.images.every((b) => b instanceof ArrayBuffer);
  }
  if (x.type === "setReference") {
    return isNum(x.id) && isStr(x.category) && x.memory instanceof ArrayBuffer;
  }
  if (x.type === "clearReference") {
    return isNum(x.id) && isStr(x.category);
  }
  return false;
}

/** Checks a reference memory's description (`AcdReferenceInfo`); null when it is well formed. */
export function checkReferenceInfo(r: unknown): string | null {
  if (!isObj(r)) return "reference info is not an object";
  if (!isNum(r.images) || r.images < 0) return "reference info: images is not a count";
  if (!Array.isArray(r.patches) || !r.patches.every(isNum)) return "reference info: patches is not a list of numbers";
  if (r.source !== "bundle" && r.source !== "page") return `reference info: unknown source ${JSON.stringify(r.source)}`;
  if (r.domainOnly !== undefined && typeof r.domainOnly !== "boolean") return "reference info: domainOnly is not a boolean";
  return null;
}

/** Checks a domain check (`AcdDomainCheck`); null when it is well formed. */
export function checkDomain(d: unknown): string | null {
  if (!isObj(d)) return "domain check is not an object";
  if (!isNum(d.farFraction) || !isNum(d.limit)) return "domain check: farFraction/limit are not numbers";
  if (typeof d.outside !== "boolean") return "domain check: outside is not a boolean";
  return null;
}

/** Checks a detection's threshold (`AcdThreshold`); null when it is well formed. */
export function checkThreshold(t: unknown): string | null {
  if (!isObj(t)) return "threshold is not an object";
  for (const k of ["image", "pixel"] as const) {
    const v = t[k];
    // (an f32 threshold may sit one rounding step above 1: the page clamps it)
    if (!isNum(v) || v < -1e-6 || v > 1 + 1e-6) return `threshold: ${k} is not a number in [0, 1]`;
  }
  if (typeof t.calibrated !== "boolean") return "threshold: calibrated is not a boolean";
  if (!isStr(t.source)) return "threshold: source is not a string";
  return null;
}

/** Checks a detection's shapes: map is width×height, N group maps of grid², N gate arrays of 2N. */
export function checkDetection(d: unknown): string | null {
  if (!isObj(d)) return "detection is not an object";
  for (const k of ["score", "pCls", "width", "height", "mapSize", "grid"]) {
    if (!isNum(d[k])) return `detection.${k} is not a number`;
  }
  const w = d.width as number;
  const h = d.height as number;
  if (!(d.map instanceof Float32Array) || d.map.length !== w * h) return `detection.map is not a Float32Array of ${w}×${h}`;
  if (!(d.modelMap instanceof Float32Array)) return "detection.modelMap is not a Float32Array";
  if (!isF32s(d.groupMaps) || !isF32s(d.gateWeights)) return "detection.groupMaps/gateWeights are not Float32Array lists";
  const n = d.groupMaps.length;
  const g = d.grid as number;
  if (d.gateWeights.length !== n) return `detection has ${n} group maps but ${d.gateWeights.length} gate weight arrays`;
  if (d.groupMaps.some((m) => m.length !== g * g)) return `a group map is not ${g}×${g}`;
  if (d.gateWeights.some((m) => m.length !== 2 * n)) return `a gate weight array does not have 2N = ${2 * n} entries`;
  if (!isObj(d.timings)) return "detection.timings is missing";
  if (d.reference !== undefined && d.reference !== null) {
    const p = checkReferenceInfo(d.reference);
    if (p) return `detection.${p}`;
  }
  if (d.domain !== undefined && d.domain !== null) {
    const p = checkDomain(d.domain);
    if (p) return `detection.${p}`;
  }
  if (d.threshold !== undefined) {
    const p = checkThreshold(d.threshold);
    if (p) return `detection.${p}`;
  }
  return null;
}

export function isWorkerToPage(x: unknown): x is WorkerToPage {
  if (!isObj(x)) return false;
  switch (x.type) {
    case "progress":
      return (
        isStr(x.phase) &&
        isNum(x.loaded) &&
        isNum(x.total) &&
        isNum(x.fromCache) &&
        isNum(x.filesDone) &&
        isNum(x.filesTotal) &&
        (x.file === undefined || isStr(x.file))
      );
    case "notice":
      return isStr(x.message);
    case "confirmDownload":
      return (
        isNum(x.bytes) &&
        isNum(x.totalBytes) &&
        (x.backend === "webgpu" || x.backend === "cpu") &&
        (x.threads === null || isNum(x.threads)) &&
        (x.estimate === null || (isObj(x.estimate) && isNum(x.estimate.gflop) && isNum(x.estimate.gflopPerSecond) && isNum(x.estimate.ms)))
      );
    case "ready":
      return (
        isObj(x.info) &&
        Array.isArray(x.categories) &&
        (x.backend === "webgpu" || x.backend === "cpu") &&
        (x.cpu === null || (isObj(x.cpu) && isNum(x.cpu.threads) && (x.cpu.singleThreadReason === null || isStr(x.cpu.singleThreadReason)))) &&
        isObj(x.timings) &&
        isObj(x.bundle) &&
        isStr(x.bundle.name) &&
        isStr(x.bundle.sha256)
      );
    case "result":
      return isNum(x.id) && checkDetection(x.detection) === null && isNum(x.workerMs);
    case "reference":
      return (
        isNum(x.id) &&
        isStr(x.category) &&
        (x.info === null || checkReferenceInfo(x.info) === null) &&
        (x.memory === undefined || x.memory instanceof ArrayBuffer)
      );
    case "error":
      return (x.id === null || isNum(x.id)) && isStr(x.stage) && isStr(x.message) && typeof x.fatal === "boolean";
    default:
      return false;
  }
}

/**
 * The buffers of a detection that can be transferred (not copied) to the page. An array that is a
 * view on a larger buffer (e.g. wasm memory) is first copied, because transferring would detach
 * the whole buffer; the detection is updated in place to hold the copies.
 */
export function detectionTransferables(d: Detection): ArrayBuffer[] {
  const own = (a: Float32Array): Float32Array =>
    a.byteOffset === 0 && a.buffer.byteLength === a.byteLength && a.buffer instanceof ArrayBuffer ? a : a.slice();
  d.map = own(d.map);
  d.modelMap = own(d.modelMap);
  d.groupMaps = d.groupMaps.map(own);
  d.gateWeights = d.gateWeights.map(own);
  const seen = new Set<ArrayBuffer>();
  for (const a of [d.map, d.modelMap, ...d.groupMaps, ...d.gateWeights]) seen.add(a.buffer as ArrayBuffer);
  return [...seen];
}

/** A readable message from anything thrown. */
export function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message || e.name;
  if (typeof e === "string") return e;
  try {
    return JSON.stringify(e);
  } catch {
    return String(e);
  }
}

/** A wasm trap (Rust panic → `unreachable`): the module instance should not be used again. */
export function isWasmTrap(e: unknown): boolean {
  return (
    (typeof WebAssembly !== "undefined" && e instanceof WebAssembly.RuntimeError) ||
    (e instanceof Error && (e.name === "RuntimeError" || /\bunreachable\b/.test(e.message)))
  );
}

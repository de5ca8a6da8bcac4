// Messages between the page and the model worker (transformers.js style):
//   page → worker: load, detect
//   worker → page: progress*, notice*, ready | error(stage "load"); then per detect: result | error(stage "detect")
// Everything crossing the boundary is checked with the guards below, so a malformed message is
// reported instead of crashing either side.

/** What the page asks for: "auto" tries WebGPU and falls back to the CPU, the others are strict. */
export type BackendRequest = "auto" | "webgpu" | "cpu";
export type Backend = "webgpu" | "cpu";

/** `AcdModel.info()` of the wasm module. */
export interface ModelInfo {
  name: string;
  description: string;
  trainedOn: string | null;
  untrained: boolean;
  backend: Backend;
  imageSize: number;
  mapSize: number;
  nGroups: number;
  grid: number;
  precision: string;
  categories: string[];
  hasTextTower: boolean;
  /** CLIP alone, no adapters (`acd export --training-free`); absent in older modules. */
  trainingFree?: boolean;
  backbone: string;
}

/** `AcdModel.detect()` of the wasm module. */
export interface Detection {
  score: number;
  pCls: number;
  width: number;
  height: number;
  /** width × height, row-major, in [0, 1] */
  map: Float32Array;
  mapSize: number;
  modelMap: Float32Array;
  grid: number;
  /** N maps, grid², in [0, 1] */
  groupMaps: Float32Array[];
  /** N arrays of length 2N: [level j][normal, abnormal] */
  gateWeights: Float32Array[];
  timings: { decodeMs: number; textMs: number; forwardMs: number; postprocessMs: number };
}

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
  backend: BackendRequest;
  /** Set when the page restarts the worker on the CPU after WebGPU broke it: shown as the reason. */
  fallbackReason?: string;
}

export interface DetectMsg {
  type: "detect";
  id: number;
  image: ArrayBuffer;
  category: string;
}

export type PageToWorker = LoadMsg | DetectMsg;

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

export interface ReadyMsg {
  type: "ready";
  info: ModelInfo;
  categories: CategoryInfo[];
  backend: Backend;
  /** Why the CPU is used when WebGPU was not (null when WebGPU runs, or nobody asked for it). */
  fallbackReason: string | null;
  /** e.g. "google / swiftshader (fallback adapter)" */
  adapter: string | null;
  timings: { runtimeMs: number; downloadMs: number; initMs: number; totalMs: number };
  cache: { filesFromCache: number; filesFetched: number; bytesFetched: number; cacheName: string | null };
}

export interface ResultMsg {
  type: "result";
  id: number;
  detection: Detection;
  /** time inside the worker, detect call to result */
  workerMs: number;
}

export interface ErrorMsg {
  type: "error";
  /** the detect id, null for load errors */
  id: number | null;
  stage: "load" | "detect" | "protocol";
  message: string;
  /** the worker cannot continue (a wasm trap): the page should start a new one */
  fatal: boolean;
  /** set when a WebGPU failure should be retried on the CPU in a fresh worker */
  retryOnCpu?: string;
}

export type WorkerToPage = ProgressMsg | NoticeMsg | ReadyMsg | ResultMsg | ErrorMsg;

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
      isBackendRequest(x.backend) &&
      (x.fallbackReason === undefined || isStr(x.fallbackReason))
    );
  }
  if (x.type === "detect") {
    return isNum(x.id) && x.image instanceof ArrayBuffer && isStr(x.category);
  }
  return false;
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
    case "ready":
      return isObj(x.info) && Array.isArray(x.categories) && (x.backend === "webgpu" || x.backend === "cpu") && isObj(x.timings);
    case "result":
      return isNum(x.id) && checkDetection(x.detection) === null && isNum(x.workerMs);
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

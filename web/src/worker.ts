// The model worker (a module worker): owns the wasm module, downloads and verifies the bundle,
// picks the backend, and runs detections, so the page never freezes.
//   load   → progress* → notice* → [confirmDownload → downloadDecision] → ready | error
//   detect → result | error
//   buildReference | setReference | clearReference → reference | error
// Detections and reference requests run one at a time, in the order they arrive, so a memory
// restored or built before a detection is the one that detection uses.

import { probeWebGpu, softwareAdapterReason, threadSupport } from "./backend";
import {
  bytesToFetch,
  fetchManifest,
  fileUrl,
  getVerifiedFile,
  pruneWeightCaches,
  sha256Hex,
  weightsCacheName,
  type CacheLike,
  type CacheStorageLike,
} from "./bundle";
import { DownloadProgress, throttle } from "./progress";
import {
  DOWNLOAD_DECLINED,
  checkDetection,
  checkReferenceInfo,
  detectionTransferables,
  errorMessage,
  isPageToWorker,
  isWasmTrap,
  type Backend,
  type CategoryInfo,
  type CpuPath,
  type DetectionEstimate,
  type DetectMsg,
  type DownloadDecisionMsg,
  type LoadMsg,
  type LoadPhase,
  type ReferenceInfo,
  type ReferenceRequest,
  type WorkerToPage,
} from "./protocol";
import type { AcdModelLike, AcdWasmModule, ModuleBackend } from "./wasm-types";

interface WorkerScope {
  postMessage(message: WorkerToPage, transfer?: Transferable[]): void;
  addEventListener(type: string, listener: (ev: MessageEvent & PromiseRejectionEvent & ErrorEvent) => void): void;
  navigator: Navigator & { gpu?: unknown };
  caches?: CacheStorage;
  crossOriginIsolated?: boolean;
}
const scope = self as unknown as WorkerScope;

let model: AcdModelLike | null = null;
let loadStarted = false;
/** Set after a wasm trap: the instance must not be used again. */
let broken: string | null = null;
/** Detections and reference requests, one at a time in arrival order. */
let queue: Promise<void> = Promise.resolve();

function enqueue(task: () => Promise<void>): void {
  queue = queue.then(task).catch(() => undefined); // each task reports its own errors
}

function post(message: WorkerToPage, transfer: Transferable[] = []): void {
  scope.postMessage(message, transfer);
}

scope.addEventListener("message", (ev) => {
  const msg: unknown = ev.data;
  if (!isPageToWorker(msg)) {
    post({ type: "error", id: null, stage: "protocol", message: "the worker got a message it does not understand", fatal: false });
    return;
  }
  if (msg.type === "load") void handleLoad(msg);
  else if (msg.type === "downloadDecision") answerDownload(msg);
  else if (msg.type === "detect") enqueue(() => handleDetect(msg));
  else enqueue(() => handleReference(msg));
});

scope.addEventListener("unhandledrejection", (ev) => {
  post({ type: "error", id: null, stage: "protocol", message: `worker: ${errorMessage(ev.reason)}`, fatal: false });
});

function openStorage(): CacheStorageLike | null {
  try {
    const c = scope.caches;
    if (!c) return null;
    return {
      open: (name) => c.open(name) as Promise<CacheLike>,
      keys: () => c.keys(),
      delete: (name) => c.delete(name),
    };
  } catch {
    return null; // e.g. a SecurityError outside a secure context
  }
}

async function startRuntime(pkgUrl: string): Promise<{ mod: AcdWasmModule; ms: number }> {
  const t = performance.now();
  try {
    const mod = (await import(/* @vite-ignore */ pkgUrl)) as AcdWasmModule;
    await mod.default();
    return { mod, ms: performance.now() - t };
  } catch (e) {
    throw new Error(`could not start the model runtime ${pkgUrl}: ${errorMessage(e)} (build it with scripts/build-wasm)`);
  }
}

/** The page's answer to the pending confirmDownload, if one is pending. */
let pendingDecision: ((proceed: boolean) => void) | null = null;

function answerDownload(msg: DownloadDecisionMsg): void {
  const decide = pendingDecision;
  pendingDecision = null;
  if (decide) decide(msg.proceed);
  else post({ type: "error", id: null, stage: "protocol", message: "a download decision came with no download to decide", fatal: false });
}

/** Asks the page before a download over the limit: how much, and how long a detection will take
 * here (measured with the runtime that will run it). Resolves to the page's answer. */
async function confirmLargeDownload(
  text: string,
  bytes: number,
  totalBytes: number,
  runtime: Promise<Runtime>,
  moduleBackend: ModuleBackend,
): Promise<boolean> {
  const { mod, cpu } = await runtime;
  const backend: Backend = moduleBackend === "cpu" ? "cpu" : "webgpu";
  let estimate: DetectionEstimate | null = null;
  try {
    if (mod.estimateDetection) estimate = await mod.estimateDetection(text, moduleBackend);
  } catch (e) {
    post({ type: "notice", message: `The speed of this device could not be measured: ${errorMessage(e)}` });
  }
  const decision = new Promise<boolean>((resolve) => (pendingDecision = resolve));
  post({ type: "confirmDownload", bytes, totalBytes, backend, threads: backend === "cpu" ? (cpu?.threads ?? 1) : null, estimate });
  return decision;
}

/** How long the CPU module's worker pool may take to start (it takes well under a second). */
const THREAD_POOL_START_MS = 30_000;

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} within ${ms / 1000} s`)), ms);
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}

interface Runtime {
  mod: AcdWasmModule;
  ms: number;
  /** The CPU path this module gives (null: the WebGPU module, started for WebGPU). */
  cpu: CpuPath | null;
}

/** The module for a CPU run: the multi-threaded one (its worker pool started) where the page is
 * cross-origin isolated and it loads, else the single-threaded one, with the reason. */
async function startCpuRuntime(msg: LoadMsg): Promise<Runtime> {
  const support = threadSupport(scope);
  let reason = support.reason;
  if (!reason && !msg.pkgThreadsUrl) reason = "this page has no multi-threaded module";
  if (!reason && msg.pkgThreadsUrl) {
    const t = performance.now();
    try {
      const mod = (await import(/* @vite-ignore */ msg.pkgThreadsUrl)) as AcdWasmModule;
      await mod.default();
      if (!mod.initThreadPool) throw new Error("it has no initThreadPool");
      // wasm-bindgen-rayon waits for every pool worker's "ready" and never hears of one that failed
      // to start: without a limit a broken pool would hang the load instead of falling back.
      await withTimeout(mod.initThreadPool(support.threads), THREAD_POOL_START_MS, "its worker pool did not start");
      return { mod, ms: performance.now() - t, cpu: { threads: support.threads, singleThreadReason: null } };
    } catch (e) {
      reason = `the multi-threaded module did not start (${errorMessage(e)}; build it with scripts/build-wasm)`;
      post({ type: "notice", message: `CPU: one thread, because ${reason}.` });
    }
  }
  const single = await startRuntime(msg.pkgUrl);
  return { ...single, cpu: { threads: 1, singleThreadReason: reason } };
}

async function handleLoad(msg: LoadMsg): Promise<void> {
  if (loadStarted) {
    post({ type: "error", id: null, stage: "load", message: "this worker already loaded a model", fatal: false });
    return;
  }
  loadStarted = true;
  const t0 = performance.now();
  const phase = (p: LoadPhase, extra: Partial<WorkerToPage & { type: "progress" }> = {}) =>
    post({ type: "progress", phase: p, loaded: 0, total: 0, fromCache: 0, filesDone: 0, filesTotal: 0, ...extra });
  try {
    // Which backend: asked for, or probed now, so that the right module compiles while the weights
    // download (WebGPU: www/pkg; the CPU: www/pkg-threads where possible).
    let fallbackReason: string | null = msg.fallbackReason ?? null;
    let probe: Awaited<ReturnType<typeof probeWebGpu>> | null = null;
    if (msg.backend === "cpu") {
      fallbackReason ??= "the CPU was requested with ?backend=cpu";
    } else if (!msg.fallbackReason) {
      probe = await probeWebGpu(scope.navigator);
      if (!probe.ok) {
        if (msg.backend === "webgpu") throw new Error(`WebGPU was requested with ?backend=webgpu, but ${probe.reason}`);
        fallbackReason = probe.reason;
      } else if (probe.software && msg.backend === "auto") {
        fallbackReason = softwareAdapterReason(probe.adapter);
      }
    }
    const tryWebGpu = fallbackReason === null && probe?.ok === true;
    // f16 where it was asked for and the adapter has f16 shaders; said when it cannot be had.
    const gpuF16 = tryWebGpu && msg.gpuF16 === true && probe?.ok === true && probe.f16;
    if (msg.gpuF16 && !gpuF16) {
      post({
        type: "notice",
        message: tryWebGpu
          ? "f16 was asked for (?precision=f16), but this GPU adapter has no f16 shaders (shader-f16): the model runs in f32."
          : "f16 was asked for (?precision=f16), which is for WebGPU: the CPU path runs in f32.",
      });
    }
    const gpuBackend: ModuleBackend = gpuF16 ? "webgpu-f16" : "webgpu";
    phase("runtime");
    const runtime: Promise<Runtime> = tryWebGpu
      ? startRuntime(msg.pkgUrl).then((r) => ({ ...r, cpu: null }))
      : startCpuRuntime(msg);
    runtime.catch(() => undefined); // reported where it is awaited

    phase("manifest");
    const storage = openStorage();
    const manifestUrl = fileUrl(msg.modelUrl, "manifest.json");
    const { text, offline } = await fetchManifest(manifestUrl, (u, i) => fetch(u, i), storage);
    if (offline) post({ type: "notice", message: "Offline: using the manifest kept from the last visit." });
    // Checked by the module that will load the bundle, the one place the manifest is validated
    // (the download waits for the module: a compile of a few hundred ms, not the weights).
    const manifest = (await runtime).mod.parseManifest(text);
    const cacheName = weightsCacheName(new URL(msg.modelUrl).pathname, await sha256Hex(new TextEncoder().encode(text)));
    const cache = storage ? await storage.open(cacheName).catch(() => null) : null;
    if (!cache) post({ type: "notice", message: "The Cache API is unavailable here: the weights will be downloaded on every visit." });

    if (msg.confirmAboveBytes !== undefined) {
      const bytes = await bytesToFetch(manifest.files, msg.modelUrl, cache);
      const totalBytes = manifest.files.reduce((sum, f) => sum + f.bytes, 0);
      if (bytes > msg.confirmAboveBytes) {
        const proceed = await confirmLargeDownload(text, bytes, totalBytes, runtime, tryWebGpu ? gpuBackend : "cpu");
        if (!proceed) {
          loadStarted = false; // the page may ask again
          post({ type: "error", id: null, stage: "load", message: DOWNLOAD_DECLINED, fatal: false });
          return;
        }
      }
    }

    const tDownload = performance.now();
    const progress = new DownloadProgress(manifest.files);
    const tick = throttle(100);
    let current: string | undefined;
    const report = (force = false) =>
      tick(() => post({ type: "progress", phase: "download", ...progress.snapshot(), file: current }), force);
    report(true);
    const names: string[] = [];
    const contents: Uint8Array[] = [];
    let filesFromCache = 0;
    let filesFetched = 0;
    let bytesFetched = 0;
    for (const entry of manifest.files) {
      current = entry.file;
      const got = await getVerifiedFile(entry, fileUrl(msg.modelUrl, entry.file), {
        fetch: (u, i) => fetch(u, i),
        sha256: sha256Hex,
        cache,
        onBytes: (file, n) => {
          progress.update(file, n);
          report();
        },
        onRetry: (file) => {
          progress.reset(file);
          report(true);
        },
        notice: (message) => post({ type: "notice", message }),
      });
      if (got.fromCache) {
        progress.markCached(entry.file);
        filesFromCache++;
      } else {
        progress.markDone(entry.file);
        filesFetched++;
        bytesFetched += entry.bytes * got.downloads;
      }
      names.push(entry.file);
      contents.push(got.bytes);
      report(true);
    }
    current = undefined;
    const downloadMs = performance.now() - tDownload;
    if (storage && cache) await pruneWeightCaches(storage, new URL(msg.modelUrl).pathname, cacheName).catch(() => []);

    const { mod, ms: runtimeMs } = await runtime;
    let cpu = (await runtime).cpu;
    phase("init", { ...progress.snapshot() });
    const tInit = performance.now();
    let backend: Backend = "cpu";
    let adapter: string | null = null;
    if (tryWebGpu && probe?.ok) {
      try {
        try {
          model = await mod.AcdModel.load(text, names, contents, gpuBackend, true);
        } catch (e) {
          // f16 refused (the device fixes its precision only once it works): f32 on the same GPU.
          if (gpuBackend !== "webgpu-f16" || isWasmTrap(e)) throw e;
          post({ type: "notice", message: `f16 on WebGPU failed (${errorMessage(e)}): the model runs in f32.` });
          model = await mod.AcdModel.load(text, names, contents, "webgpu", true);
        }
        backend = "webgpu";
        adapter = probe.adapter;
      } catch (e) {
        const reason = `WebGPU init failed: ${errorMessage(e)}`;
        if (isWasmTrap(e)) {
          broken = reason;
          post({
            type: "error",
            id: null,
            stage: "load",
            message: reason,
            fatal: true,
            retryOnCpu: msg.backend === "auto" ? reason : undefined,
          });
          return;
        }
        if (msg.backend === "webgpu") throw new Error(`${reason} (WebGPU was requested with ?backend=webgpu)`);
        fallbackReason = reason;
        const threads = threadSupport(scope);
        if (threads.reason === null && msg.pkgThreadsUrl) {
          // The multi-threaded CPU module beats this (WebGPU) module's one CPU thread: start over
          // on the CPU in a fresh worker; the weights are in the cache by now.
          post({ type: "error", id: null, stage: "load", message: reason, fatal: true, retryOnCpu: reason });
          return;
        }
        // No threads here anyway: the CPU path of the module already running.
        cpu = { threads: 1, singleThreadReason: threads.reason ?? "this page has no multi-threaded module" };
      }
    }
    if (!model) model = await mod.AcdModel.load(text, names, contents, "cpu", true);
    const initMs = performance.now() - tInit;

    const info = model.info();
    const realNames = new Map(manifest.categories.map((c) => [c.key, c.realName]));
    const categories: CategoryInfo[] = info.categories.map((key) => ({ key, realName: realNames.get(key) ?? key }));
    post({
      type: "ready",
      info,
      categories,
      backend,
      fallbackReason: backend === "cpu" ? fallbackReason : null,
      adapter,
      cpu: backend === "cpu" ? (cpu ?? { threads: 1, singleThreadReason: "the WebGPU module's CPU path" }) : null,
      timings: { runtimeMs, downloadMs, initMs, totalMs: performance.now() - t0 },
      cache: { filesFromCache, filesFetched, bytesFetched, cacheName: cache ? cacheName : null },
      bundle: { name: manifest.name, sha256: manifest.files[0].sha256 },
    });
  } catch (e) {
    const trap = isWasmTrap(e);
    if (trap) broken = errorMessage(e);
    post({ type: "error", id: null, stage: "load", message: errorMessage(e), fatal: trap });
  }
}

async function handleDetect(msg: DetectMsg): Promise<void> {
  if (broken) {
    post({ type: "error", id: msg.id, stage: "detect", message: `the model stopped working (${broken})`, fatal: true });
    return;
  }
  if (!model) {
    post({ type: "error", id: msg.id, stage: "detect", message: "the model is not loaded yet", fatal: false });
    return;
  }
  const t = performance.now();
  try {
    const detection = await model.detect(new Uint8Array(msg.image), msg.category);
    const problem = checkDetection(detection);
    if (problem) throw new Error(`the model returned a malformed result: ${problem}`);
    const transfer = detectionTransferables(detection);
    post({ type: "result", id: msg.id, detection, workerMs: performance.now() - t }, transfer);
  } catch (e) {
    const trap = isWasmTrap(e);
    if (trap) {
      broken = errorMessage(e);
      model = null;
    }
    post({ type: "error", id: msg.id, stage: "detect", message: errorMessage(e), fatal: trap });
  }
}

const NO_REFERENCE_API = "this model runtime has no reference memory (www/pkg is older than the page: rebuild it with scripts/build-wasm)";

/** The bytes of a Uint8Array as an ArrayBuffer of their own (a view on wasm memory is copied). */
function ownBuffer(a: Uint8Array): ArrayBuffer {
  return a.byteOffset === 0 && a.byteLength === a.buffer.byteLength && a.buffer instanceof ArrayBuffer ? a.buffer : a.slice().buffer;
}

function checkedInfo(r: unknown): ReferenceInfo | null {
  if (r === null || r === undefined) return null;
  const problem = checkReferenceInfo(r);
  if (problem) throw new Error(`the model returned a malformed result: ${problem}`);
  return r as ReferenceInfo;
}

async function handleReference(msg: ReferenceRequest): Promise<void> {
  if (broken) {
    post({ type: "error", id: msg.id, stage: "reference", message: `the model stopped working (${broken})`, fatal: true });
    return;
  }
  if (!model) {
    post({ type: "error", id: msg.id, stage: "reference", message: "the model is not loaded yet", fatal: false });
    return;
  }
  const m = model;
  try {
    if (!m.buildReference || !m.setReference || !m.clearReference || !m.referenceInfo) throw new Error(NO_REFERENCE_API);
    if (msg.type === "buildReference") {
      const bytes = await m.buildReference(
        msg.images.map((b) => new Uint8Array(b)),
        msg.category,
      );
      if (!(bytes instanceof Uint8Array)) throw new Error("the model returned a malformed result: the reference memory is not bytes");
      const memory = ownBuffer(bytes);
      const info = checkedInfo(m.referenceInfo(msg.category));
      post({ type: "reference", id: msg.id, category: msg.category, info, memory }, [memory]);
    } else if (msg.type === "setReference") {
      const info = checkedInfo(m.setReference(msg.category, new Uint8Array(msg.memory)));
      post({ type: "reference", id: msg.id, category: msg.category, info });
    } else {
      m.clearReference(msg.category);
      const info = checkedInfo(m.referenceInfo(msg.category));
      post({ type: "reference", id: msg.id, category: msg.category, info });
    }
  } catch (e) {
    const trap = isWasmTrap(e);
    if (trap) {
      broken = errorMessage(e);
      model = null;
    }
    post({ type: "error", id: msg.id, stage: "reference", message: errorMessage(e), fatal: trap });
  }
}

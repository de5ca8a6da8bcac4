import { describe, expect, it } from "vitest";
import { MAX_RESTARTS, ModelClient, type ClientEvents, type WorkerLike } from "../src/client";
import {
  checkDetection,
  checkDomain,
  checkReferenceInfo,
  detectionTransferables,
  errorMessage,
  isPageToWorker,
  isWasmTrap,
  isWorkerToPage,
  type Detection,
} from "../src/protocol";

function detection(n = 2, grid = 3, w = 4, h = 2): Detection {
  return {
    score: 0.7,
    pCls: 0.6,
    width: w,
    height: h,
    map: new Float32Array(w * h).fill(0.5),
    mapSize: 8,
    modelMap: new Float32Array(64),
    grid,
    groupMaps: Array.from({ length: n }, () => new Float32Array(grid * grid)),
    gateWeights: Array.from({ length: n }, () => new Float32Array(2 * n).fill(1 / n)),
    timings: { decodeMs: 1, textMs: 2, forwardMs: 3, postprocessMs: 4 },
  };
}

describe("message guards", () => {
  it("accepts the page's messages and nothing else", () => {
    expect(isPageToWorker({ type: "load", modelUrl: "u", pkgUrl: "p", backend: "auto" })).toBe(true);
    expect(isPageToWorker({ type: "load", modelUrl: "u", pkgUrl: "p", backend: "cpu", fallbackReason: "why" })).toBe(true);
    expect(isPageToWorker({ type: "load", modelUrl: "u", pkgUrl: "p", pkgThreadsUrl: "t", backend: "cpu" })).toBe(true);
    expect(isPageToWorker({ type: "load", modelUrl: "u", pkgUrl: "p", pkgThreadsUrl: 7, backend: "cpu" })).toBe(false);
    expect(isPageToWorker({ type: "load", modelUrl: "u", pkgUrl: "p", backend: "auto", gpuF16: true })).toBe(true);
    expect(isPageToWorker({ type: "load", modelUrl: "u", pkgUrl: "p", backend: "auto", gpuF16: "yes" })).toBe(false);
    expect(isPageToWorker({ type: "load", modelUrl: "u", pkgUrl: "p", backend: "cuda" })).toBe(false);
    expect(isPageToWorker({ type: "detect", id: 1, image: new ArrayBuffer(3), category: "bottle" })).toBe(true);
    expect(isPageToWorker({ type: "detect", id: 1, image: new Uint8Array(3), category: "bottle" })).toBe(false);
    expect(isPageToWorker({ type: "run" })).toBe(false);
    expect(isPageToWorker(null)).toBe(false);
  });
  it("accepts the worker's messages and checks result shapes", () => {
    expect(isWorkerToPage({ type: "progress", phase: "download", loaded: 1, total: 2, fromCache: 0, filesDone: 0, filesTotal: 1, file: "a" })).toBe(true);
    expect(isWorkerToPage({ type: "notice", message: "m" })).toBe(true);
    expect(isWorkerToPage(ready("cpu"))).toBe(true);
    expect(isWorkerToPage({ ...ready("cpu"), cpu: { threads: "2", singleThreadReason: null } })).toBe(false);
    expect(isWorkerToPage({ ...ready("cpu"), cpu: undefined })).toBe(false);
    expect(isWorkerToPage({ type: "error", id: null, stage: "load", message: "m", fatal: false })).toBe(true);
    expect(isWorkerToPage({ type: "error", id: 3, stage: "detect", message: "m" })).toBe(false);
    expect(isWorkerToPage({ type: "result", id: 1, detection: detection(), workerMs: 5 })).toBe(true);
    const bad = detection();
    bad.map = new Float32Array(3);
    expect(isWorkerToPage({ type: "result", id: 1, detection: bad, workerMs: 5 })).toBe(false);
  });
  it("checkDetection names what is wrong", () => {
    expect(checkDetection(detection())).toBeNull();
    const d = detection();
    d.gateWeights[1] = new Float32Array(3);
    expect(checkDetection(d)).toMatch(/2N = 4/);
    const e = detection();
    e.groupMaps.pop();
    expect(checkDetection(e)).toMatch(/1 group maps but 2 gate weight arrays/);
    expect(checkDetection({ ...detection(), score: "x" })).toMatch(/score/);
  });
});

describe("reference memory messages", () => {
  const info = { images: 8, patches: [120, 120], source: "page" };
  it("accepts the page's reference requests and nothing malformed", () => {
    expect(isPageToWorker({ type: "buildReference", id: 2, category: "carpet", images: [new ArrayBuffer(3), new ArrayBuffer(4)] })).toBe(true);
    expect(isPageToWorker({ type: "buildReference", id: 2, category: "carpet", images: [new Uint8Array(3)] })).toBe(false);
    expect(isPageToWorker({ type: "buildReference", id: 2, category: "carpet", images: new ArrayBuffer(3) })).toBe(false);
    expect(isPageToWorker({ type: "setReference", id: 3, category: "carpet", memory: new ArrayBuffer(9) })).toBe(true);
    expect(isPageToWorker({ type: "setReference", id: 3, category: "carpet" })).toBe(false);
    expect(isPageToWorker({ type: "clearReference", id: 4, category: "carpet" })).toBe(true);
    expect(isPageToWorker({ type: "clearReference", id: 4 })).toBe(false);
  });
  it("accepts the worker's reference answers and checks their info", () => {
    expect(isWorkerToPage({ type: "reference", id: 2, category: "carpet", info, memory: new ArrayBuffer(5) })).toBe(true);
    expect(isWorkerToPage({ type: "reference", id: 4, category: "carpet", info: null })).toBe(true);
    expect(isWorkerToPage({ type: "reference", id: 4, category: "carpet", info: { ...info, source: "cloud" } })).toBe(false);
    expect(isWorkerToPage({ type: "reference", id: 4, category: "carpet", info, memory: [1, 2] })).toBe(false);
    expect(isWorkerToPage({ type: "error", id: 4, stage: "reference", message: "image 3 could not be decoded", fatal: false })).toBe(true);
  });
  it("a ready message carries the bundle identity", () => {
    const { bundle: _, ...old } = ready();
    expect(isWorkerToPage(ready())).toBe(true);
    expect(isWorkerToPage(old)).toBe(false);
  });
  it("checks the reference and domain fields of a detection (absent or null is fine)", () => {
    expect(checkReferenceInfo(info)).toBeNull();
    expect(checkReferenceInfo({ ...info, patches: ["x"] })).toMatch(/patches/);
    expect(checkReferenceInfo({ ...info, source: "bundle", domainOnly: true })).toBeNull();
    expect(checkReferenceInfo({ ...info, domainOnly: "yes" })).toMatch(/domainOnly/);
    expect(checkDomain({ farFraction: 0.2, limit: 0.5, outside: false })).toBeNull();
    expect(checkDomain({ farFraction: 0.2, limit: 0.5, outside: "no" })).toMatch(/outside/);
    expect(checkDetection({ ...detection(), reference: null, domain: null })).toBeNull();
    expect(checkDetection({ ...detection(), reference: info, domain: { farFraction: 0.7, limit: 0.5, outside: true } })).toBeNull();
    expect(checkDetection({ ...detection(), reference: { images: "8" } })).toMatch(/detection\.reference info: images/);
    expect(checkDetection({ ...detection(), domain: { farFraction: 0.7 } })).toMatch(/detection\.domain check/);
    // the threshold (absent in older modules)
    const threshold = { image: 0.42, pixel: 0.61, calibrated: true, source: "calibrated on 200 normal images at a 1% false-positive rate" };
    expect(checkDetection({ ...detection(), threshold })).toBeNull();
    expect(checkDetection({ ...detection(), threshold: { ...threshold, image: 1.0000001 } })).toBeNull(); // f32 rounding above 1
    expect(checkDetection({ ...detection(), threshold: { ...threshold, image: 1.5 } })).toMatch(/detection\.threshold: image/);
    expect(checkDetection({ ...detection(), threshold: { ...threshold, pixel: Number.NaN } })).toMatch(/detection\.threshold: pixel/);
    expect(checkDetection({ ...detection(), threshold: { ...threshold, calibrated: 1 } })).toMatch(/calibrated is not a boolean/);
    expect(checkDetection({ ...detection(), threshold: { ...threshold, source: null } })).toMatch(/source is not a string/);
    expect(checkDetection({ ...detection(), threshold: null })).toMatch(/threshold is not an object/);
  });
});

describe("transferables", () => {
  it("returns one buffer per array and copies views of larger buffers", () => {
    const d = detection();
    const big = new Float32Array(100);
    const view = big.subarray(10, 18);
    d.map = view;
    const bufs = detectionTransferables(d);
    expect(d.map).not.toBe(view);
    expect(d.map.buffer).not.toBe(big.buffer);
    expect(bufs).toHaveLength(2 + 2 * 2);
    expect(new Set(bufs).size).toBe(bufs.length);
    expect(bufs).not.toContain(big.buffer);
  });
});

describe("errors", () => {
  it("recognises wasm traps", () => {
    expect(isWasmTrap(new WebAssembly.RuntimeError("unreachable"))).toBe(true);
    expect(isWasmTrap(new Error("RuntimeError: unreachable executed"))).toBe(true);
    expect(isWasmTrap(new Error("unknown category \"x\""))).toBe(false);
    expect(errorMessage(new Error("boom"))).toBe("boom");
    expect(errorMessage("s")).toBe("s");
    expect(errorMessage({ a: 1 })).toBe('{"a":1}');
  });
});

// ---- the client against a fake worker --------------------------------------------------------

class FakeWorker implements WorkerLike {
  sent: { message: any; transfer?: Transferable[] }[] = [];
  terminated = false;
  onmessage: ((ev: MessageEvent) => void) | null = null;
  onerror: ((ev: ErrorEvent | Event) => void) | null = null;
  postMessage(message: unknown, transfer?: Transferable[]) {
    this.sent.push({ message, transfer });
  }
  terminate() {
    this.terminated = true;
  }
  reply(data: unknown) {
    this.onmessage?.({ data } as MessageEvent);
  }
}

function setup() {
  const workers: FakeWorker[] = [];
  const log: string[] = [];
  const events: ClientEvents = {
    progress: (m) => log.push(`progress ${m.loaded}/${m.total}`),
    notice: (m) => log.push(`notice ${m.message}`),
    ready: (m) => log.push(`ready ${m.backend}`),
    loadError: (m) => log.push(`loadError ${m}`),
    result: (m) => log.push(`result ${m.id} ${m.detection.score}`),
    detectError: (id, m) => log.push(`detectError ${id} ${m}`),
    restart: (r) => log.push(`restart ${r}`),
  };
  const client = new ModelClient({ modelUrl: "http://h/models/demo/", pkgUrl: "http://h/pkg/acd_wasm.js", backend: "auto" }, events, () => {
    const w = new FakeWorker();
    workers.push(w);
    return w;
  });
  return { client, workers, log };
}

const ready = (backend = "webgpu") => ({
  type: "ready",
  info: {},
  categories: [],
  backend,
  fallbackReason: null,
  adapter: null,
  cpu: backend === "cpu" ? { threads: 2, singleThreadReason: null } : null,
  timings: { runtimeMs: 1, downloadMs: 1, initMs: 1, totalMs: 3 },
  cache: { filesFromCache: 0, filesFetched: 1, bytesFetched: 10, cacheName: "c" },
  bundle: { name: "demo", sha256: "ab".repeat(32) },
});

describe("ModelClient", () => {
  it("loads, then sends detect with the image transferred, and routes the result", async () => {
    const { client, workers, log } = setup();
    client.start();
    expect(workers[0].sent[0].message).toEqual({ type: "load", modelUrl: "http://h/models/demo/", pkgUrl: "http://h/pkg/acd_wasm.js", backend: "auto" });
    workers[0].reply({ type: "progress", phase: "download", loaded: 5, total: 10, fromCache: 0, filesDone: 0, filesTotal: 1 });
    workers[0].reply(ready());
    expect(client.isReady).toBe(true);
    const img = new ArrayBuffer(8);
    const id = client.detect(img, "bottle");
    expect(workers[0].sent[1].message).toMatchObject({ type: "detect", id, category: "bottle" });
    expect(workers[0].sent[1].transfer).toEqual([img]);
    workers[0].reply({ type: "result", id, detection: detection(), workerMs: 3 });
    expect(log).toEqual(["progress 5/10", "ready webgpu", `result ${id} 0.7`]);
  });

  it("refuses to detect before the model is ready", async () => {
    const { client, log } = setup();
    client.start();
    const id = client.detect(new ArrayBuffer(1), "bottle");
    await Promise.resolve();
    expect(log).toEqual([`detectError ${id} the model is not ready yet`]);
  });

  it("reports a detect error and stays ready for the next image", () => {
    const { client, workers, log } = setup();
    client.start();
    workers[0].reply(ready());
    const id = client.detect(new ArrayBuffer(1), "bottle");
    workers[0].reply({ type: "error", id, stage: "detect", message: "could not decode the image", fatal: false });
    expect(client.isReady).toBe(true);
    expect(log.at(-1)).toBe(`detectError ${id} could not decode the image`);
  });

  it("restarts on the CPU when WebGPU trapped during load, passing the reason", () => {
    const { client, workers, log } = setup();
    client.start();
    workers[0].reply({ type: "error", id: null, stage: "load", message: "WebGPU init failed: unreachable", fatal: true, retryOnCpu: "WebGPU init failed: unreachable" });
    expect(workers[0].terminated).toBe(true);
    expect(workers).toHaveLength(2);
    expect(workers[1].sent[0].message).toMatchObject({ type: "load", backend: "cpu", fallbackReason: "WebGPU init failed: unreachable" });
    expect(log[0]).toMatch(/^restart WebGPU init failed: unreachable; switching to the CPU/);
    workers[1].reply(ready("cpu"));
    expect(client.isReady).toBe(true);
  });

  it("restarts after a trap during detect, reports the image's error, and ignores the old worker", () => {
    const { client, workers, log } = setup();
    client.start();
    workers[0].reply(ready());
    const id = client.detect(new ArrayBuffer(1), "bottle");
    workers[0].reply({ type: "error", id, stage: "detect", message: "RuntimeError: unreachable", fatal: true });
    expect(log).toContain(`detectError ${id} RuntimeError: unreachable`);
    expect(workers).toHaveLength(2);
    expect(workers[1].sent[0].message.backend).toBe("auto");
    workers[0].reply(ready()); // late message from the terminated worker
    expect(client.isReady).toBe(false);
  });

  it("gives up after repeated fatal errors", () => {
    const { client, workers, log } = setup();
    client.start();
    for (let i = 0; i <= MAX_RESTARTS; i++) {
      workers.at(-1)!.reply({ type: "error", id: null, stage: "load", message: "trap", fatal: true });
    }
    expect(workers).toHaveLength(MAX_RESTARTS + 1);
    expect(log.at(-1)).toMatch(/^loadError the model stopped working and could not be restarted/);
  });

  it("sends reference requests with their buffers transferred and resolves them by id", async () => {
    const { client, workers } = setup();
    client.start();
    workers[0].reply(ready());
    const images = [new ArrayBuffer(4), new ArrayBuffer(6)];
    const built = client.buildReference(images, "carpet");
    const sent = workers[0].sent[1];
    expect(sent.message).toMatchObject({ type: "buildReference", category: "carpet" });
    expect(sent.transfer).toEqual(images);
    const info = { images: 2, patches: [10, 10], source: "page" as const };
    const memory = new ArrayBuffer(100);
    const restored = client.setReference("wood", new ArrayBuffer(7));
    const restoreId = workers[0].sent[2].message.id;
    expect(workers[0].sent[2].transfer).toHaveLength(1);
    // answers may come in any order
    workers[0].reply({ type: "reference", id: restoreId, category: "wood", info: { ...info, images: 5 } });
    workers[0].reply({ type: "reference", id: sent.message.id, category: "carpet", info, memory });
    await expect(built).resolves.toEqual({ info, memory });
    await expect(restored).resolves.toEqual({ ...info, images: 5 });
    const cleared = client.clearReference("carpet");
    expect(workers[0].sent[3].message).toMatchObject({ type: "clearReference", category: "carpet" });
    workers[0].reply({ type: "reference", id: workers[0].sent[3].message.id, category: "carpet", info: { ...info, source: "bundle" } });
    await expect(cleared).resolves.toMatchObject({ source: "bundle" });
  });

  it("rejects a reference request with the model's error, before ready, and when the worker stops", async () => {
    const { client, workers, log } = setup();
    client.start();
    await expect(client.clearReference("carpet")).rejects.toThrow(/not ready/);
    workers[0].reply(ready());
    const bad = client.setReference("carpet", new ArrayBuffer(3));
    workers[0].reply({ type: "error", id: workers[0].sent[1].message.id, stage: "reference", message: "the memory was built for another model", fatal: false });
    await expect(bad).rejects.toThrow("the memory was built for another model");
    expect(client.isReady).toBe(true);
    const lost = client.buildReference([new ArrayBuffer(3)], "carpet");
    const detectId = client.detect(new ArrayBuffer(1), "carpet");
    workers[0].reply({ type: "error", id: detectId, stage: "detect", message: "RuntimeError: unreachable", fatal: true });
    await expect(lost).rejects.toThrow(/the model worker stopped/);
    expect(workers).toHaveLength(2);
    expect(log.some((l) => l.startsWith("restart"))).toBe(true);
  });

  it("reports load errors, worker script errors and malformed messages", () => {
    const { client, workers, log } = setup();
    client.start();
    workers[0].reply({ type: "error", id: null, stage: "load", message: "no model bundle at …", fatal: false });
    workers[0].reply({ type: "bogus" });
    workers[0].onerror?.({ message: "SyntaxError in worker" } as ErrorEvent);
    expect(log).toEqual([
      "loadError no model bundle at …",
      'loadError the model worker sent an unexpected message: {"type":"bogus"}',
      "loadError SyntaxError in worker",
    ]);
  });
});

describe("asking before a large download", () => {
  const confirm = {
    type: "confirmDownload",
    bytes: 310e6,
    totalBytes: 310e6,
    backend: "cpu",
    threads: 2,
    estimate: { gflop: 500, gflopPerSecond: 50, ms: 10_000 },
  };

  it("the messages are checked on both sides", () => {
    expect(isWorkerToPage(confirm)).toBe(true);
    expect(isWorkerToPage({ ...confirm, estimate: null, backend: "webgpu", threads: null })).toBe(true);
    expect(isWorkerToPage({ ...confirm, bytes: "310 MB" })).toBe(false);
    expect(isWorkerToPage({ ...confirm, estimate: { gflop: 1 } })).toBe(false);
    expect(isPageToWorker({ type: "downloadDecision", proceed: false })).toBe(true);
    expect(isPageToWorker({ type: "downloadDecision", proceed: "yes" })).toBe(false);
    expect(isPageToWorker({ type: "load", modelUrl: "u", pkgUrl: "p", backend: "auto", confirmAboveBytes: -1 })).toBe(false);
  });

  function clientWith(confirmAboveBytes: number | undefined, ask: boolean) {
    const workers: FakeWorker[] = [];
    const asked: unknown[] = [];
    const events: ClientEvents = {
      progress: () => undefined,
      notice: () => undefined,
      ready: () => undefined,
      loadError: () => undefined,
      result: () => undefined,
      detectError: () => undefined,
      restart: () => undefined,
      ...(ask ? { confirmDownload: (m: unknown) => void asked.push(m) } : {}),
    };
    const client = new ModelClient({ modelUrl: "m/", pkgUrl: "p.js", backend: "auto", confirmAboveBytes }, events, () => {
      const w = new FakeWorker();
      workers.push(w);
      return w;
    });
    return { client, workers, asked };
  }

  it("the load carries the limit, the question reaches the page, and the answer the worker", () => {
    const { client, workers, asked } = clientWith(100e6, true);
    client.start();
    expect(workers[0].sent[0].message.confirmAboveBytes).toBe(100e6);
    workers[0].reply(confirm);
    expect(asked).toEqual([confirm]);
    client.decideDownload(true);
    expect(workers[0].sent[1].message).toEqual({ type: "downloadDecision", proceed: true });
  });

  it("after a yes, a restarted worker does not ask again; after a no, downloadAnyway loads without asking", () => {
    const yes = clientWith(100e6, true);
    yes.client.start();
    yes.client.decideDownload(true);
    yes.workers[0].reply({ type: "error", id: null, stage: "load", message: "trap", fatal: true });
    expect(yes.workers[1].sent[0].message.confirmAboveBytes).toBeUndefined();

    const no = clientWith(100e6, true);
    no.client.start();
    no.client.decideDownload(false);
    expect(no.workers[0].sent[1].message).toEqual({ type: "downloadDecision", proceed: false });
    no.client.downloadAnyway();
    expect(no.workers[0].terminated).toBe(true);
    expect(no.workers[1].sent[0].message.confirmAboveBytes).toBeUndefined();
  });

  it("a page that cannot ask does not send a limit, and a question it gets anyway is answered yes", () => {
    const { client, workers } = clientWith(100e6, false);
    client.start();
    expect(workers[0].sent[0].message.confirmAboveBytes).toBeUndefined();
    workers[0].reply(confirm);
    expect(workers[0].sent[1].message).toEqual({ type: "downloadDecision", proceed: true });
  });
});

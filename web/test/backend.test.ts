import { describe, expect, it } from "vitest";
import { backendFromQuery, cpuPathLabel, DEFAULT_MODEL, describeAdapter, gpuF16FromQuery, modelFromQuery, probeWebGpu, threadSupport } from "../src/backend";

describe("query parameters", () => {
  it("reads ?backend", () => {
    expect(backendFromQuery("")).toEqual({ backend: "auto", warning: null });
    expect(backendFromQuery("?backend=cpu")).toEqual({ backend: "cpu", warning: null });
    expect(backendFromQuery("?backend=WebGPU")).toEqual({ backend: "webgpu", warning: null });
    expect(backendFromQuery("?backend=cuda").warning).toMatch(/unknown \?backend=cuda/);
  });
  it("reads ?precision: f16 only when asked, anything unknown is f32 and said", () => {
    expect(gpuF16FromQuery("")).toEqual({ gpuF16: false, warning: null });
    expect(gpuF16FromQuery("?precision=f16")).toEqual({ gpuF16: true, warning: null });
    expect(gpuF16FromQuery("?precision=F16&model=demo")).toEqual({ gpuF16: true, warning: null });
    expect(gpuF16FromQuery("?precision=f32")).toEqual({ gpuF16: false, warning: null });
    const odd = gpuF16FromQuery("?precision=half");
    expect(odd.gpuF16).toBe(false);
    expect(odd.warning).toMatch(/unknown \?precision=half/);
  });
  it("reads ?model as a plain name only", () => {
    expect(modelFromQuery("")).toEqual({ model: DEFAULT_MODEL, warning: null });
    expect(modelFromQuery("?model=e2e-tiny")).toEqual({ model: "e2e-tiny", warning: null });
    for (const bad of ["../x", "a/b", "https://evil.example/m", "..", "%2e%2e"]) {
      const r = modelFromQuery(`?model=${encodeURIComponent(bad)}`);
      expect(r.model).toBe(DEFAULT_MODEL);
      expect(r.warning).toMatch(/not a plain bundle name/);
    }
  });
});

describe("probeWebGpu", () => {
  it("explains each reason for the CPU", async () => {
    expect(await probeWebGpu({})).toEqual({ ok: false, reason: "this browser has no navigator.gpu (WebGPU unsupported or disabled)" });
    expect(await probeWebGpu({ gpu: { requestAdapter: async () => null } })).toEqual({ ok: false, reason: "navigator.gpu.requestAdapter() found no adapter" });
    const r = await probeWebGpu({
      gpu: {
        requestAdapter: async () => {
          throw new Error("blocked");
        },
      },
    });
    expect(r).toEqual({ ok: false, reason: "navigator.gpu.requestAdapter() failed: blocked" });
  });
  it("says whether the adapter has f16 shaders", async () => {
    const withF16 = { has: (f: string) => f === "shader-f16" || f === "timestamp-query" };
    const without = { has: (f: string) => f === "timestamp-query" };
    const probe = (features: { has(f: string): boolean }) =>
      probeWebGpu({ gpu: { requestAdapter: async () => ({ info: { vendor: "amd", architecture: "rdna-3" }, features }) } });
    expect(await probe(withF16)).toMatchObject({ ok: true, f16: true });
    expect(await probe(without)).toMatchObject({ ok: true, f16: false });
  });
  it("describes the adapter", async () => {
    const r = await probeWebGpu({ gpu: { requestAdapter: async () => ({ info: { vendor: "google", architecture: "swiftshader", isFallbackAdapter: true } }) } });
    expect(r).toEqual({ ok: true, adapter: "google / swiftshader (software fallback adapter)", software: true, f16: false });
    const hw = await probeWebGpu({ gpu: { requestAdapter: async () => ({ info: { vendor: "nvidia", architecture: "hopper" } }) } });
    expect(hw).toEqual({ ok: true, adapter: "nvidia / hopper", software: false, f16: false });
    expect(describeAdapter({})).toBe("unnamed adapter");
  });
});

describe("the CPU path's threads", () => {
  it("uses one worker per core where the page is cross-origin isolated, at most 16", () => {
    expect(threadSupport({ crossOriginIsolated: true, navigator: { hardwareConcurrency: 2 } })).toEqual({ threads: 2, reason: null });
    expect(threadSupport({ crossOriginIsolated: true, navigator: { hardwareConcurrency: 64 } }).threads).toBe(16);
  });
  it("runs one thread, and says why, without isolation or with one core", () => {
    expect(threadSupport({ crossOriginIsolated: false, navigator: { hardwareConcurrency: 8 } })).toEqual({
      threads: 1,
      reason: expect.stringMatching(/not cross-origin isolated/),
    });
    expect(threadSupport({ navigator: { hardwareConcurrency: 8 } }).threads).toBe(1);
    expect(threadSupport({ crossOriginIsolated: true, navigator: { hardwareConcurrency: 1 } }).reason).toMatch(/one core/);
    expect(threadSupport({ crossOriginIsolated: true, navigator: {} }).reason).toMatch(/one core/);
  });
  it("labels the path with its threads and the reason for one", () => {
    expect(cpuPathLabel({ threads: 4, singleThreadReason: null })).toBe("CPU (WebAssembly SIMD, 4 threads)");
    expect(cpuPathLabel({ threads: 1, singleThreadReason: "no COOP" })).toBe("CPU (WebAssembly SIMD, 1 thread: no COOP)");
    expect(cpuPathLabel(null)).toBe("CPU (WebAssembly SIMD, 1 thread)");
  });
});

// Which backend to ask for, and why the CPU is used when it is.

import type { BackendRequest, CpuPath } from "./protocol";

/** `?backend=cpu|webgpu|auto` (default auto); anything else is reported and treated as auto. */
export function backendFromQuery(search: string): { backend: BackendRequest; warning: string | null } {
  const v = new URLSearchParams(search).get("backend");
  if (v === null || v === "" || v === "auto") return { backend: "auto", warning: null };
  const lower = v.toLowerCase();
  if (lower === "cpu" || lower === "webgpu") return { backend: lower, warning: null };
  return { backend: "auto", warning: `unknown ?backend=${v} (use cpu, webgpu or auto); using auto` };
}

/** `?precision=f16` runs the model on WebGPU in f16 where the adapter has `shader-f16`: half the GPU
 * memory, and on the demo model the same AUROCs as f32 to 0.02 points (docs/parity.md §7). Opt-in:
 * no browser here has an f16 adapter, so the f16 page path has run natively (lavapipe) only. */
export function gpuF16FromQuery(search: string): { gpuF16: boolean; warning: string | null } {
  const v = new URLSearchParams(search).get("precision");
  if (v === null || v === "" || v.toLowerCase() === "f32") return { gpuF16: false, warning: null };
  if (v.toLowerCase() === "f16") return { gpuF16: true, warning: null };
  return { gpuF16: false, warning: `unknown ?precision=${v} (use f16 or f32); using f32` };
}

/** What the CPU path is (crates/wasm: burn-flex with gemm's SIMD128 kernels; www/pkg-threads adds a
 * rayon pool of Web Workers where the page is cross-origin isolated). */
export function cpuPathLabel(cpu: CpuPath | null): string {
  if (cpu && cpu.threads > 1) return `CPU (WebAssembly SIMD, ${cpu.threads} threads)`;
  return `CPU (WebAssembly SIMD, 1 thread${cpu?.singleThreadReason ? `: ${cpu.singleThreadReason}` : ""})`;
}

/** Threads for the CPU module where shared memory is possible, or why it is not. */
export function threadSupport(scope: {
  crossOriginIsolated?: boolean;
  navigator?: { hardwareConcurrency?: number };
}): { threads: number; reason: null } | { threads: 1; reason: string } {
  if (!scope.crossOriginIsolated) {
    return { threads: 1, reason: "this host is not cross-origin isolated (no COOP/COEP headers), so no shared memory" };
  }
  if (typeof SharedArrayBuffer === "undefined") return { threads: 1, reason: "this browser has no SharedArrayBuffer" };
  const cores = Math.floor(scope.navigator?.hardwareConcurrency ?? 1);
  if (!(cores >= 2)) return { threads: 1, reason: "this device reports one core" };
  // One worker per core, at most 16: more adds memory and start-up time, not speed, on 2-column gemm.
  return { threads: Math.min(cores, 16), reason: null };
}

export const DEFAULT_MODEL = "demo";
const MODEL_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;

/** `?model=<name>` → that bundle under models/; only plain names (no paths, no other origins). */
export function modelFromQuery(search: string): { model: string; warning: string | null } {
  const v = new URLSearchParams(search).get("model");
  if (v === null || v === "") return { model: DEFAULT_MODEL, warning: null };
  if (!MODEL_NAME.test(v) || v.includes("..")) {
    return { model: DEFAULT_MODEL, warning: `?model=${v} is not a plain bundle name; using ${DEFAULT_MODEL}` };
  }
  return { model: v, warning: null };
}

// Minimal WebGPU types (TypeScript's DOM lib does not carry them).
interface GpuAdapterInfoLike {
  vendor?: string;
  architecture?: string;
  description?: string;
  isFallbackAdapter?: boolean;
}
interface GpuAdapterLike {
  info?: GpuAdapterInfoLike;
  isFallbackAdapter?: boolean;
  features?: { has(name: string): boolean };
}
interface GpuLike {
  requestAdapter(options?: unknown): Promise<GpuAdapterLike | null>;
}

export type WebGpuProbe = { ok: true; adapter: string; software: boolean; f16: boolean } | { ok: false; reason: string };

/** Asks navigator.gpu for an adapter (the same check the wasm module makes before Burn's init). */
export async function probeWebGpu(nav: { gpu?: unknown } | undefined): Promise<WebGpuProbe> {
  const gpu = nav?.gpu as GpuLike | undefined;
  if (!gpu || typeof gpu.requestAdapter !== "function") {
    return { ok: false, reason: "this browser has no navigator.gpu (WebGPU unsupported or disabled)" };
  }
  let adapter: GpuAdapterLike | null;
  try {
    // The adapter Burn's WebGPU init asks for (high performance), so that its features are the ones
    // the model will have (shader-f16) on a machine with two GPUs.
    adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
  } catch (e) {
    return { ok: false, reason: `navigator.gpu.requestAdapter() failed: ${(e as Error)?.message ?? String(e)}` };
  }
  if (!adapter) return { ok: false, reason: "navigator.gpu.requestAdapter() found no adapter" };
  const f16 = adapter.features?.has("shader-f16") === true;
  return { ok: true, adapter: describeAdapter(adapter), software: isSoftwareAdapter(adapter), f16 };
}

/** A software rasteriser (SwiftShader & co.): WebGPU emulated on the CPU. */
export function isSoftwareAdapter(a: GpuAdapterLike): boolean {
  const info = a.info ?? {};
  return (info.isFallbackAdapter ?? a.isFallbackAdapter) === true || /swiftshader|llvmpipe|lavapipe/i.test(`${info.vendor} ${info.architecture} ${info.description}`);
}

/**
 * In "auto" mode a software adapter is not used: it emulates the GPU on the CPU and measured
 * 10–40× slower than the wasm CPU path here (tiny model 2.6 s vs 63 ms per image).
 */
export function softwareAdapterReason(adapter: string): string {
  return `the only WebGPU adapter is a software one (${adapter}), slower than the CPU path; add ?backend=webgpu to use it anyway`;
}

export function describeAdapter(a: GpuAdapterLike): string {
  const info = a.info ?? {};
  const parts = [info.vendor, info.architecture, info.description].filter((s): s is string => !!s && s.length > 0);
  const name = parts.length ? [...new Set(parts)].join(" / ") : "unnamed adapter";
  const fallback = info.isFallbackAdapter ?? a.isFallbackAdapter;
  return fallback ? `${name} (software fallback adapter)` : name;
}

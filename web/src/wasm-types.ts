// The shape of www/pkg/acd_wasm.js (crates/wasm, built by scripts/build-wasm). It is imported at
// run time from its URL, not bundled, so the page builds without it. The result types are
// declared once, in acd-types.ts; protocol.ts gives them the page's names.

import type { AcdManifest } from "./acd-types";
import type { Detection, DetectionEstimate, ModelInfo, ReferenceInfo } from "./protocol";

export interface AcdModelLike {
  /** The bundle's facts, with its reference memories and calibrated thresholds by category. */
  info(): ModelInfo;
  categories(): string[];
  /** Resolves to the detection, with the threshold to judge it by (`threshold`) and where that came from. */
  detect(imageBytes: Uint8Array, category: string): Promise<Detection>;
  /**
   * Builds a reference memory from 1–16 encoded normal images, makes it the active memory of
   * `category`, and resolves to its serialized bytes (rejects with an Error naming a bad image or
   * a count outside 1..16). Absent in modules built before the reference memory.
   */
  buildReference?(images: Uint8Array[], category: string): Promise<Uint8Array>;
  /** Restores bytes made by buildReference; throws an Error naming the problem if they do not fit this model. */
  setReference?(category: string, memory: Uint8Array): ReferenceInfo;
  /** Forgets the page's memory of `category`; the bundle's own memory (if any) is active again. */
  clearReference?(category: string): void;
  referenceInfo?(category: string): ReferenceInfo | null;
  free(): void;
}

/** The module's backends: "webgpu-f16" is WebGPU with the model in f16 (needs `shader-f16`). */
export type ModuleBackend = "webgpu" | "webgpu-f16" | "cpu";

export interface AcdWasmModule {
  /** wasm-bindgen's init: fetches and instantiates acd_wasm_bg.wasm next to the JS file. */
  default: (options?: unknown) => Promise<unknown>;
  AcdModel: {
    /** `hashesChecked`: every file's SHA-256 was checked against the manifest already (by getVerifiedFile), so the module does not hash them again. */
    load(manifestJson: string, fileNames: string[], fileBytes: Uint8Array[], backend: ModuleBackend, hashesChecked?: boolean): Promise<AcdModelLike>;
  };
  /** The manifest, checked (format, version, config, file list); throws an Error naming the problem. */
  parseManifest(manifestJson: string): AcdManifest;
  /** One detection's GFLOP for the bundle `manifestJson` describes and this device's measured speed
   * on `backend` (absent in modules built before it). */
  estimateDetection?: (manifestJson: string, backend: ModuleBackend) => Promise<DetectionEstimate>;
  /** Only in the multi-threaded CPU module (www/pkg-threads): starts `threads` Web Workers sharing
   * its memory (wasm-bindgen-rayon). */
  initThreadPool?: (threads: number) => Promise<unknown>;
}

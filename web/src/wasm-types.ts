// The shape of www/pkg/acd_wasm.js (crates/wasm, built by scripts/build-wasm). It is imported at
// run time from its URL, not bundled, so the page builds without it.

import type { Detection, ModelInfo } from "./protocol";

export interface AcdModelLike {
  info(): ModelInfo;
  categories(): string[];
  detect(imageBytes: Uint8Array, category: string): Promise<Detection>;
  free(): void;
}

export interface AcdWasmModule {
  /** wasm-bindgen's init: fetches and instantiates acd_wasm_bg.wasm next to the JS file. */
  default: (options?: unknown) => Promise<unknown>;
  AcdModel: {
    load(manifestJson: string, fileNames: string[], fileBytes: Uint8Array[], backend: "webgpu" | "cpu"): Promise<AcdModelLike>;
  };
}

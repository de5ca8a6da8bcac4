// Builds web/ into www/ (index.html, assets/, sw.js) without touching www/pkg (scripts/build-wasm)
// or www/models (acd export). Unit tests (vitest) live in test/; the browser tests in e2e/.
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Plugin } from "vite";
import { defineConfig } from "vitest/config";
import { ISOLATION_HEADERS } from "./server/serve.mjs";
import samples from "./src/samples.json" with { type: "json" };

/** The multi-threaded module's files (www/pkg-threads, when scripts/build-wasm built it): its
 * wasm-bindgen-rayon worker helper sits in a snippets/ folder whose name carries a hash. */
function pkgThreadsFiles(): string[] {
  const dir = fileURLToPath(new URL("../www/pkg-threads/", import.meta.url));
  if (!existsSync(dir)) return [];
  return (readdirSync(dir, { recursive: true }) as string[])
    .map((f) => f.split("\\").join("/"))
    .filter((f) => f.endsWith(".js") || f.endsWith(".wasm"))
    .map((f) => `pkg-threads/${f}`)
    .sort();
}

/** Emits sw.js with the list of files to keep for offline use (the build's own files + runtime + samples). */
function serviceWorker(): Plugin {
  return {
    name: "acd-service-worker",
    apply: "build",
    generateBundle(_options, bundle) {
      const emitted = Object.keys(bundle).filter((f) => !f.endsWith(".map"));
      const precache = [
        "./",
        ...emitted.filter((f) => f !== "index.html"),
        "pkg/acd_wasm.js",
        "pkg/acd_wasm_bg.wasm",
        ...pkgThreadsFiles(),
        ...samples.map((s) => `samples/${s.file}`),
      ];
      const version = createHash("sha256").update(emitted.sort().join("\n")).digest("hex").slice(0, 12);
      const template = readFileSync(fileURLToPath(new URL("./sw/sw.js", import.meta.url)), "utf8");
      const source = template
        .replace("__VERSION__", version)
        .replace("__PRECACHE__", JSON.stringify(precache, null, 2))
        .replace("__ISOLATION_HEADERS__", JSON.stringify(ISOLATION_HEADERS, null, 2));
      this.emitFile({ type: "asset", fileName: "sw.js", source });
    },
  };
}

export default defineConfig({
  base: "./",
  publicDir: false,
  plugins: [serviceWorker()],
  build: {
    outDir: "../www",
    emptyOutDir: false,
    assetsDir: "assets",
    target: "es2022",
    sourcemap: true,
    // keep the assets/ folder to this build's files: scripts/build-web clears it before building
  },
  worker: { format: "es" },
  test: {
    include: ["test/**/*.test.ts"],
    environment: "node",
  },
});

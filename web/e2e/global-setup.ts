// Starts the static server for the browser tests and makes sure the test bundle exists.
//
// Environment:
//   ACD_E2E_MODEL      bundle under www/models/ to test (default e2e-tiny; created with `acd export
//                      --random-tiny` when missing and the acd binary is there)
//   ACD_BIN            the acd binary (default target/release/acd)
//   ACD_E2E_REFERENCE  JSON lines of `acd detect --bundle www/models/<model>` to compare with (optional)
//   ACD_E2E_BACKENDS   comma list of backends to test (default "webgpu,cpu")
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { TestProject } from "vitest/node";
import { serve } from "../server/serve.mjs";

declare module "vitest" {
  export interface ProvidedContext {
    baseUrl: string;
    logPath: string;
    model: string;
    repoRoot: string;
  }
}

export const TINY_EXPORT_ARGS = [
  "export",
  "--random-tiny",
  "7",
  "--image-size",
  "224",
  "--with-text-tower",
  "--name",
  "e2e-tiny",
  "--description",
  "Random tiny model for the browser tests",
];

export default async function setup(project: TestProject) {
  const repoRoot = resolve(fileURLToPath(new URL("../..", import.meta.url)));
  const www = join(repoRoot, "www");
  const model = process.env.ACD_E2E_MODEL || "e2e-tiny";
  for (const [file, fix] of [
    ["index.html", "scripts/build-web"],
    ["pkg/acd_wasm.js", "scripts/build-wasm"],
  ]) {
    if (!existsSync(join(www, file))) throw new Error(`www/${file} is missing: run ${fix} first`);
  }
  const bundle = join(www, "models", model);
  if (!existsSync(join(bundle, "manifest.json"))) {
    const bin = process.env.ACD_BIN || join(repoRoot, "target/release/acd");
    if (model !== "e2e-tiny" || !existsSync(bin)) {
      throw new Error(`no test bundle at www/models/${model}: export one (e.g. acd ${TINY_EXPORT_ARGS.join(" ")} --out www/models/e2e-tiny)`);
    }
    execFileSync(bin, [...TINY_EXPORT_ARGS, "--out", bundle], { stdio: "inherit" });
  }
  const logPath = join(mkdtempSync(join(tmpdir(), "acd-e2e-")), "requests.jsonl");
  const { server, url } = await serve({ root: www, port: 0, log: logPath, quiet: true });
  console.log(`e2e: serving ${www} at ${url} (model ${model}, request log ${logPath})`);
  project.provide("baseUrl", url);
  project.provide("logPath", logPath);
  project.provide("model", model);
  project.provide("repoRoot", repoRoot);
  return async () => {
    await new Promise((ok) => server.close(ok));
  };
}

// Compares the page's score and map with the native CLI's on the same bundle and images.
//
//   target/release/acd detect IMAGES... --bundle www/models/<model> --category C --out DIR > ref.jsonl
//   ACD_E2E_MODEL=<model> ACD_E2E_REFERENCE=ref.jsonl npm run e2e -- reference
//
// Each JSON line gives image, category, score and map (a .npy, float32 [height, width]); relative
// paths are tried against the current folder, the reference file's folder and the repository.
// Tolerances: ACD_E2E_SCORE_TOL (default 1e-4) and ACD_E2E_MAP_TOL (max abs, default 1e-3).
import { existsSync, readFileSync } from "node:fs";
import { basename, dirname, isAbsolute, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { Session } from "./helpers";
import { readNpyF32 } from "./npy";

const refPath = process.env.ACD_E2E_REFERENCE;
const baseUrl = inject("baseUrl");
const model = inject("model");
const repoRoot = inject("repoRoot");
const backends = (process.env.ACD_E2E_BACKENDS || "webgpu,cpu").split(",").map((s) => s.trim()) as ("webgpu" | "cpu")[];
const scoreTol = Number(process.env.ACD_E2E_SCORE_TOL || 1e-4);
const mapTol = Number(process.env.ACD_E2E_MAP_TOL || 1e-3);

interface RefLine {
  image: string;
  category: string;
  score: number;
  map: string;
  width: number;
  height: number;
}

function find(p: string): string {
  if (isAbsolute(p)) return p;
  for (const base of [process.cwd(), refPath ? dirname(resolve(refPath)) : "", repoRoot]) {
    const full = resolve(base, p);
    if (base && existsSync(full)) return full;
  }
  throw new Error(`reference file ${p} not found (cwd, next to the reference, repository root)`);
}

const lines: RefLine[] = refPath
  ? readFileSync(refPath, "utf8")
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l))
      .filter((l) => !l.error)
  : [];

describe.skipIf(!refPath).each(backends)("page vs native reference on %s", (backend) => {
  let s: Session;
  beforeAll(async () => {
    s = await Session.open({ webgpu: true });
    await s.goto(`${baseUrl}?model=${model}&backend=${backend}`);
    await s.waitReady();
  });
  afterAll(async () => s?.close());

  it("has reference lines", () => {
    expect(lines.length).toBeGreaterThan(0);
  });

  it.each(lines.map((l) => [basename(l.image), l] as const))("%s: same score and map", async (_name, ref) => {
    const keys = await s.page.locator("#category option").evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value));
    if (keys.includes(ref.category)) {
      await s.page.selectOption("#category", ref.category);
    } else {
      expect(keys, `category ${ref.category} needs the text tower`).toContain("__custom__");
      await s.page.selectOption("#category", "__custom__");
      await s.page.locator("#custom-text").fill(ref.category);
    }
    const bytes = readFileSync(find(ref.image));
    const out = await s.chooseFile(basename(ref.image), bytes, "application/octet-stream");
    expect(out).toEqual({ ok: true, error: null });
    const st = await s.lastStats();
    expect([st.width, st.height]).toEqual([ref.width, ref.height]);
    const npy = readNpyF32(find(ref.map));
    expect(npy.shape).toEqual([ref.height, ref.width]);
    const map = await s.fullMap();
    let maxDiff = 0;
    for (let i = 0; i < map.length; i++) maxDiff = Math.max(maxDiff, Math.abs(map[i] - npy.data[i]));
    const scoreDiff = Math.abs(st.score - ref.score);
    console.log(`[${backend}] ${basename(ref.image)} (${ref.category}): |Δscore| ${scoreDiff.toExponential(2)}, max |Δmap| ${maxDiff.toExponential(2)}`);
    expect(scoreDiff).toBeLessThanOrEqual(scoreTol);
    expect(maxDiff).toBeLessThanOrEqual(mapTol);
  });
});

// Browser timings for docs/benchmarks.md, run only when ACD_BENCH_OUT is set:
//
//   cd web && ACD_E2E_MODEL=demo ACD_BENCH_OUT=../bench-out/browser-demo.json npm run e2e -- bench
//
// For each backend of ACD_E2E_BACKENDS (default webgpu,cpu): a fresh browser loads the page with
// ?backend=..., then detects one sample image ACD_BENCH_RUNS times (default 5). "cpu" runs the
// multi-threaded module (the test server is cross-origin isolated); "cpu-1thread" the same page from
// a server without COOP/COEP and with ?sw=0 (the service worker would add them), so the
// single-threaded module. Recorded: the page's
// own ready timings (wasm runtime, download, model init), the first detection and the later ones
// (the worker's decode / text / forward / post-process split and the wall time seen by the test),
// and the browser's peak memory: the sum of the proportional set sizes (PSS, so shared pages count
// once) of every Chromium process, sampled every 250 ms from load to the last detection.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, inject, it } from "vitest";
import { serve } from "../server/serve.mjs";
import { Session } from "./helpers";

const out = process.env.ACD_BENCH_OUT;
const baseUrl = inject("baseUrl");
const model = inject("model");
const runs = Number(process.env.ACD_BENCH_RUNS ?? 5);
const sample = process.env.ACD_BENCH_SAMPLE ?? "fabric-spot.png";
const backends = (process.env.ACD_E2E_BACKENDS ?? "webgpu,cpu").split(",").filter(Boolean);

interface Detection {
  wallMs: number;
  decodeMs: number;
  textMs: number;
  forwardMs: number;
  postprocessMs: number;
}

const median = (v: number[]) => {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const results: Record<string, unknown> = {};

/** MiB of PSS summed over the processes named chromium/chrome (Linux /proc; null elsewhere). */
function chromiumPssMiB(): number | null {
  let kb = 0;
  let seen = false;
  let pids: string[];
  try {
    pids = readdirSync("/proc").filter((d) => /^\d+$/.test(d));
  } catch {
    return null;
  }
  for (const pid of pids) {
    try {
      const comm = readFileSync(`/proc/${pid}/comm`, "utf8").trim();
      if (!/^(chromium|chrome)/.test(comm)) continue;
      const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"));
      if (m) {
        kb += Number(m[1]);
        seen = true;
      }
    } catch {
      // the process ended, or is not ours to read
    }
  }
  return seen ? kb / 1024 : null;
}

function peakMemorySampler(): { stop(): number | null } {
  let peak: number | null = null;
  const sample = () => {
    const v = chromiumPssMiB();
    if (v !== null) peak = Math.max(peak ?? 0, v);
  };
  const timer = setInterval(sample, 250);
  sample();
  return {
    stop() {
      clearInterval(timer);
      sample();
      return peak;
    },
  };
}

describe.skipIf(!out)("browser timings", () => {
  afterAll(() => {
    writeFileSync(out!, JSON.stringify({ model, sample, runs, chromium: process.env.ACD_CHROMIUM ?? "/usr/bin/chromium", results }, null, 2));
  });

  for (const backend of backends) it(`loads and detects on ${backend}`, { timeout: 3_600_000 }, async () => {
    const single = backend === "cpu-1thread";
    const plain = single ? await serve({ root: join(inject("repoRoot"), "www"), port: 0, quiet: true, isolated: false }) : null;
    const s = await Session.open({ webgpu: true });
    const memory = peakMemorySampler();
    try {
      const t0 = performance.now();
      // confirm-mb: no question before a large bundle's download (the page would wait for a click)
      await s.goto(`${plain?.url ?? baseUrl}?model=${model}&backend=${single ? "cpu&sw=0" : backend}&confirm-mb=1000000`);
      const ready = await s.waitReady(1_800_000);
      const loadMs = performance.now() - t0;
      expect(ready.backend).toBe(single ? "cpu" : backend);
      if (single) expect(ready.cpu?.threads).toBe(1);
      const detections: Detection[] = [];
      for (let i = 0; i <= runs; i++) {
        const t = performance.now();
        const r = await s.expectOutcome(() => s.page.click(`button[data-sample="${sample}"]`), 1_800_000);
        const wallMs = performance.now() - t;
        expect(r.ok, r.error ?? "").toBe(true);
        const tm = await s.page.evaluate(() => (window as any).__acd.last.detection.timings);
        detections.push({ wallMs, ...tm });
      }
      const [first, ...rest] = detections;
      const peakPssMiB = memory.stop();
      results[backend] = {
        peakPssMiB,
        adapter: ready.adapter ?? null,
        cpu: ready.cpu,
        ready: { wallMs: loadMs, ...ready.timings },
        firstDetection: first,
        later: {
          n: rest.length,
          medianWallMs: median(rest.map((d) => d.wallMs)),
          medianForwardMs: median(rest.map((d) => d.forwardMs)),
          minWallMs: Math.min(...rest.map((d) => d.wallMs)),
          maxWallMs: Math.max(...rest.map((d) => d.wallMs)),
          all: rest,
        },
      };
      console.log(`[${backend}] ${JSON.stringify(results[backend])}`);
    } finally {
      memory.stop();
      await s.close();
      if (plain) await new Promise((ok) => plain.server.close(ok));
    }
  });
});

// The page end to end, on each backend (WebGPU on SwiftShader, and the CPU via ?backend=cpu).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { turbo } from "../src/colormap";
import type { ReadyMsg } from "../src/protocol";
import { serve } from "../server/serve.mjs";
import { origin, readLog, Session } from "./helpers";

const baseUrl = inject("baseUrl");
const logPath = inject("logPath");
const model = inject("model");
const repoRoot = inject("repoRoot");
const www = join(repoRoot, "www");
const manifest = JSON.parse(readFileSync(join(www, "models", model, "manifest.json"), "utf8"));
const shardBytes = manifest.files.reduce((a: number, f: { bytes: number }) => a + f.bytes, 0);
const backends = (process.env.ACD_E2E_BACKENDS || "webgpu,cpu").split(",").map((s) => s.trim()) as ("webgpu" | "cpu")[];

const samplePng = readFileSync(join(www, "samples", "fabric-spot.png"));
const corruptPng = samplePng.subarray(0, 1500); // a truncated PNG: valid header, broken data
const notAnImage = Buffer.from("This is a text file, not an image.\n".repeat(20));

const close = (a: number[], b: number[], tol: number) => a.every((v, i) => Math.abs(v - b[i]) <= tol);

describe.each(backends)("the page on %s", (backend) => {
  let s: Session;
  let ready: ReadyMsg;
  const url = `${baseUrl}?model=${model}&backend=${backend}`;
  const log: { ms: number; what: string }[] = [];

  beforeAll(async () => {
    s = await Session.open({ webgpu: true });
  });
  afterAll(async () => {
    console.log(`[${backend}] timings:\n${log.map((l) => `  ${l.what}: ${Math.round(l.ms)} ms`).join("\n")}`);
    await s?.close();
  });

  it("loads the model with a download progress bar", async () => {
    const t = performance.now();
    await s.goto(url);
    ready = await s.waitReady();
    log.push({ what: "first load (download + init)", ms: performance.now() - t });
    log.push({ what: "  of which wasm runtime", ms: ready.timings.runtimeMs }, { what: "  of which model init", ms: ready.timings.initMs });
    expect(ready.backend).toBe(backend);
    if (backend === "cpu") {
      expect(ready.fallbackReason).toMatch(/\?backend=cpu/);
      // The test server is cross-origin isolated: the multi-threaded module runs, one worker per core.
      const cores = await s.page.evaluate(() => navigator.hardwareConcurrency);
      if (cores > 1) {
        expect(ready.cpu).toEqual({ threads: Math.min(cores, 16), singleThreadReason: null });
        expect(s.requests.some((u) => u.includes("/pkg-threads/acd_wasm_bg.wasm"))).toBe(true);
      } else {
        expect(ready.cpu).toEqual({ threads: 1, singleThreadReason: expect.stringMatching(/one core/) });
      }
    } else {
      expect(ready.adapter).toMatch(/swiftshader/i);
      expect(ready.cpu).toBeNull();
    }
    expect(ready.cache.filesFetched).toBe(manifest.files.length);
    // the browser-side request record sees the worker's shard downloads (so the privacy checks below can see them too)
    for (const f of manifest.files) expect(s.requests.some((u) => u.endsWith(`/models/${model}/${f.file}`))).toBe(true);
    const p = await s.page.evaluate(() => ({ last: (window as any).__acd.progress, n: (window as any).__acd.progressEvents }));
    expect(p.n).toBeGreaterThan(1);
    expect(p.last.total).toBe(shardBytes);
    expect(p.last.loaded).toBe(shardBytes);
    await expect.poll(() => s.page.locator("#progress").isHidden()).toBe(true);
    const status = await s.page.locator("#status-detail").innerText();
    expect(status).toContain(backend === "webgpu" ? "WebGPU" : "CPU");
    // model card and the untrained label
    const card = await s.page.locator("#card-facts").innerText();
    expect(card).toContain(`${manifest.config.adapter.n_groups}`);
    expect(card).toContain(manifest.precision);
    if (manifest.untrained) {
      await expect.poll(() => s.page.locator("#untrained-banner").isVisible()).toBe(true);
      expect(await s.page.locator("#untrained-banner").innerText()).toMatch(/untrained \/ random weights — not a detector/i);
    }
  });

  it("detects on a sample and draws the map over the image", async () => {
    const t = performance.now();
    const out = await s.clickSample("fabric-scratch.png");
    log.push({ what: "first detect (sample, 256×256)", ms: performance.now() - t });
    expect(out).toEqual({ ok: true, error: null });
    const st = await s.lastStats();
    log.push({ what: "  model forward (first)", ms: st.timings.forwardMs });
    expect(st.width).toBe(256);
    expect(st.height).toBe(256);
    expect(st.score).toBeGreaterThanOrEqual(0);
    expect(st.score).toBeLessThanOrEqual(1);
    expect(st.max).toBeLessThanOrEqual(1);
    expect(st.min).toBeGreaterThanOrEqual(0);
    expect(await s.page.locator("#score").innerText()).toBe(st.score.toFixed(3));
    expect(await s.page.locator("#fact-backend").innerText()).toContain(backend === "webgpu" ? "WebGPU" : "CPU");
    // a second detection is the steady-state speed
    const t2 = performance.now();
    await s.clickSample("fabric-spot.png");
    log.push({ what: "second detect", ms: performance.now() - t2 });
    log.push({ what: "  model forward (second)", ms: (await s.lastStats()).timings.forwardMs });
  });

  it("the opacity slider blends image and turbo map; the threshold slider draws the outline", async () => {
    const st = await s.lastStats();
    const canvasSize = await s.page.evaluate(() => {
      const c = document.getElementById("view") as HTMLCanvasElement;
      return [c.width, c.height];
    });
    expect(canvasSize).toEqual([st.width, st.height]);
    // Points: the map's maximum and a few others, away from any outline (threshold 1 → none).
    await s.setSlider("threshold", 1);
    expect(await s.whitePixels()).toBe(0);
    const pts: [number, number][] = [st.argmax, [10, 10], [200, 60], [128, 128]];
    const values = await s.mapValues(pts);
    await s.setSlider("opacity", 0);
    const original = await s.page.evaluate(async (p) => {
      const res = await fetch("samples/fabric-spot.png");
      const bmp = await createImageBitmap(await res.blob());
      const c = new OffscreenCanvas(bmp.width, bmp.height);
      const ctx = c.getContext("2d")!;
      ctx.drawImage(bmp, 0, 0);
      return p.map(([x, y]) => Array.from(ctx.getImageData(x, y, 1, 1).data));
    }, pts);
    const bare = await s.pixels(pts);
    pts.forEach((_, i) => expect(close(bare[i], original[i], 1)).toBe(true));
    await s.setSlider("opacity", 1);
    const full = await s.pixels(pts);
    pts.forEach((_, i) => expect(close(full[i].slice(0, 3), turbo(values[i]), 2), `pixel ${pts[i]}: ${full[i]} vs turbo(${values[i]})`).toBe(true));
    await s.setSlider("opacity", 0.5);
    const half = await s.pixels(pts);
    pts.forEach((_, i) => {
      const want = original[i].slice(0, 3).map((v, c) => 0.5 * v + 0.5 * turbo(values[i])[c]);
      expect(close(half[i].slice(0, 3), want, 3)).toBe(true);
    });
    expect(await s.page.locator("#opacity-out").innerText()).toBe("50%");

    // threshold at the median: an outline appears, and the reported area is about half
    await s.setSlider("opacity", 0);
    const t = Math.round(st.median * 100) / 100;
    await s.setSlider("threshold", t);
    expect(await s.whitePixels()).toBeGreaterThan(0);
    expect(await s.page.locator("#threshold-out").innerText()).toBe(t.toFixed(2));
    const area = await s.page.locator("#fact-area").innerText();
    expect(area).toMatch(/% of the pixels$/);
    // below the minimum: the region is the whole image, outlined along the border
    await s.setSlider("threshold", 0);
    expect(await s.page.locator("#fact-area").innerText()).toBe("100.0% of the pixels");
    const verdict = await s.page.locator("#verdict-box").getAttribute("data-verdict");
    expect(verdict).toBe(manifest.untrained ? "none" : "anomalous");
    await s.setSlider("threshold", 0.5);
    await s.setSlider("opacity", 0.55);
  });

  it("shows the N per-group maps and the gate weights", async () => {
    const n = manifest.config.adapter.n_groups;
    expect(await s.page.locator("#group-maps canvas").count()).toBe(n);
    expect(await s.page.locator("#gates tbody tr").count()).toBe(n);
    expect(await s.page.locator("#gates tbody tr").first().locator(".bar").count()).toBe(2 * n);
    const grid = (await s.lastStats()).grid;
    expect(await s.page.locator("#group-maps canvas").first().getAttribute("width")).toBe(String(grid));
    expect(await s.page.locator("#group-maps figcaption").first().innerText()).toMatch(/^Group 1 /);
    // gate weights: per group, normal and abnormal weights each sum to 1 over the levels
    const sums = await s.page.evaluate(() =>
      ((window as any).__acd.last.detection.gateWeights as Float32Array[]).map((w) => {
        let a = 0;
        let b = 0;
        for (let j = 0; j < w.length / 2; j++) {
          a += w[2 * j];
          b += w[2 * j + 1];
        }
        return [a, b];
      }),
    );
    for (const [a, b] of sums) {
      expect(a).toBeCloseTo(1, 4);
      expect(b).toBeCloseTo(1, 4);
    }
  });

  it("after ready, detecting makes no network request at all", async () => {
    const serverBefore = readLog(logPath).length;
    const browserBefore = s.requests.length;
    const out = await s.chooseFile("private.png", samplePng);
    expect(out.ok).toBe(true);
    await s.frames();
    expect(s.requests.slice(browserBefore)).toEqual([]);
    expect(readLog(logPath).slice(serverBefore)).toEqual([]);
  });

  it("a corrupt file and a non-image file show an error, and the next image works", async () => {
    const bad = await s.chooseFile("broken.png", corruptPng);
    expect(bad.ok).toBe(false);
    expect(bad.error).toMatch(/Could not analyse broken\.png/);
    log.push({ what: `corrupt PNG → ${bad.error}`, ms: 0 });
    expect(await s.page.locator("#error").isVisible()).toBe(true);
    expect(await s.page.locator("#verdict-box").isHidden()).toBe(true);
    expect(await s.page.locator("#group-maps canvas").count()).toBe(0); // no stale explanation
    const txt = await s.chooseFile("notes.txt", notAnImage, "text/plain");
    expect(txt.ok).toBe(false);
    expect(txt.error).toMatch(/Could not analyse notes\.txt/);
    expect(await s.page.locator("#placeholder").innerText()).toMatch(/^Could not analyse notes\.txt/);
    log.push({ what: `text file → ${txt.error}`, ms: 0 });
    const good = await s.chooseFile("fabric-spot.png", samplePng);
    expect(good).toEqual({ ok: true, error: null });
    expect(await s.page.locator("#error").isHidden()).toBe(true);
    expect(await s.page.locator("#verdict-box").isVisible()).toBe(true);
  });

  it("drop and paste feed the model too", async () => {
    const bytes = [...samplePng];
    const dropped = await s.expectOutcome(() =>
      s.page.evaluate((b) => {
        const dt = new DataTransfer();
        dt.items.add(new File([new Uint8Array(b)], "dropped.png", { type: "image/png" }));
        document.getElementById("dropzone")!.dispatchEvent(new DragEvent("drop", { dataTransfer: dt, bubbles: true, cancelable: true }));
      }, bytes),
    );
    expect(dropped.ok).toBe(true);
    expect((await s.lastStats()).name).toBe("dropped.png");
    const pasted = await s.expectOutcome(() =>
      s.page.evaluate((b) => {
        const dt = new DataTransfer();
        dt.items.add(new File([new Uint8Array(b)], "clip.png", { type: "image/png" }));
        document.dispatchEvent(new ClipboardEvent("paste", { clipboardData: dt, bubbles: true, cancelable: true }));
      }, bytes),
    );
    expect(pasted.ok).toBe(true);
    expect((await s.lastStats()).name).toBe("clip.png");
  });

  it("a free-text category works when the bundle has the text tower", async () => {
    if (!manifest.has_text_tower) return;
    await s.page.selectOption("#category", "__custom__");
    await s.page.locator("#custom-text").fill("a woven basket");
    const out = await s.expectOutcome(() => s.page.locator("#custom-text").press("Enter"));
    expect(out.ok).toBe(true);
    await s.page.selectOption("#category", manifest.categories[0].key);
    await s.frames();
  });

  it("a reload starts from the Cache API: no shard is requested", async () => {
    const serverBefore = readLog(logPath).length;
    const t = performance.now();
    await s.page.reload();
    const r = await s.waitReady();
    log.push({ what: "reload to ready (weights from the cache)", ms: performance.now() - t });
    expect(r.cache.filesFetched).toBe(0);
    expect(r.cache.filesFromCache).toBe(manifest.files.length);
    const shardHits = readLog(logPath)
      .slice(serverBefore)
      .filter((e) => /\.safetensors$/.test(new URL(e.url, baseUrl).pathname));
    expect(shardHits).toEqual([]);
    expect(await s.page.locator("#status-detail").innerText()).toContain("from the browser cache");
  });

  it("a corrupted cached shard is named, evicted and fetched again", async () => {
    const victim = manifest.files[0].file as string;
    await s.page.evaluate(async (file) => {
      for (const name of await caches.keys()) {
        if (!name.startsWith("acd-weights-v1:")) continue;
        const c = await caches.open(name);
        for (const req of await c.keys()) {
          if (req.url.endsWith(`/${file}`)) {
            const buf = new Uint8Array(await (await c.match(req))!.arrayBuffer());
            buf[buf.length >> 1] ^= 0xff; // flip one byte
            await c.put(req, new Response(buf));
          }
        }
      }
    }, victim);
    const serverBefore = readLog(logPath).length;
    await s.page.reload();
    const r = await s.waitReady();
    const notices: string[] = await s.page.evaluate(() => (window as any).__acd.notices);
    expect(notices.some((n) => n.startsWith(`${victim} fails its SHA-256 check`) && /evicted it/.test(n))).toBe(true);
    expect(r.cache.filesFetched).toBe(1);
    const refetched = readLog(logPath)
      .slice(serverBefore)
      .filter((e) => new URL(e.url, baseUrl).pathname.endsWith(`/${victim}`));
    expect(refetched.length).toBe(1);
    expect((await s.clickSample("fabric-good.png")).ok).toBe(true);
  });

  it("works offline after the first visit (service worker + Cache API)", async () => {
    await s.ctx.setOffline(true);
    try {
      await s.page.reload();
      const r = await s.waitReady();
      expect(r.cache.filesFetched).toBe(0);
      const out = await s.chooseFile("offline.png", samplePng);
      expect(out.ok).toBe(true);
    } finally {
      await s.ctx.setOffline(false);
    }
  });

  it("never asked another origin for anything, and broke no CSP rule", async () => {
    const foreign = s.requests.filter((u) => !u.startsWith("data:") && !u.startsWith("blob:") && origin(u) !== origin(baseUrl));
    expect(foreign).toEqual([]);
    expect(await s.cspViolations()).toEqual([]);
    const relevant = s.consoleErrors.filter((e) => !/Failed to load resource|ERR_INTERNET_DISCONNECTED/.test(e));
    expect(relevant.filter((e) => /Content Security Policy|Refused to/.test(e))).toEqual([]);
  });
});

describe("choosing the backend", () => {
  it("auto mode skips a software WebGPU adapter (SwiftShader) for the faster CPU path, and says why", async () => {
    const s = await Session.open({ webgpu: true });
    try {
      await s.goto(`${baseUrl}?model=${model}`);
      const r = await s.waitReady();
      expect(r.backend).toBe("cpu");
      expect(r.fallbackReason).toMatch(/the only WebGPU adapter is a software one \(google \/ swiftshader.*\?backend=webgpu/);
    } finally {
      await s.close();
    }
  });
});

describe("f16 on WebGPU (?precision=f16)", () => {
  it("on an adapter without f16 shaders (SwiftShader) runs in f32 and says so", async () => {
    const s = await Session.open({ webgpu: true });
    try {
      await s.goto(`${baseUrl}?model=${model}&backend=webgpu&precision=f16`);
      const r = await s.waitReady();
      expect(r.backend).toBe("webgpu");
      expect(r.info.arithmetic).toBe("f32");
      const notices: string[] = await s.page.evaluate(() => (window as any).__acd.notices);
      expect(notices.some((n) => /no f16 shaders \(shader-f16\): the model runs in f32/.test(n))).toBe(true);
      const status = await s.page.locator("#status-detail").innerText();
      expect(status).toContain("WebGPU");
      expect(status).not.toContain("f16");
    } finally {
      await s.close();
    }
  });
});

describe("served without cross-origin isolation (a static host that sets no headers)", () => {
  it("without the service worker: runs the single-threaded CPU module, says why, and still detects", async () => {
    const { server, url } = await serve({ root: www, port: 0, quiet: true, isolated: false });
    const s = await Session.open({ webgpu: false });
    try {
      await s.goto(`${url}?model=${model}&backend=cpu&sw=0`);
      const r = await s.waitReady();
      expect(r.backend).toBe("cpu");
      expect(r.cpu?.threads).toBe(1);
      expect(r.cpu?.singleThreadReason).toMatch(/not cross-origin isolated/);
      expect(await s.page.locator("#status-detail").innerText()).toMatch(/CPU \(WebAssembly SIMD, 1 thread: this host is not cross-origin isolated/);
      expect(s.requests.some((u) => u.includes("/pkg-threads/"))).toBe(false);
      expect((await s.clickSample("grid-hole.png")).ok).toBe(true);
    } finally {
      await s.close();
      await new Promise((ok) => server.close(ok));
    }
  });

  it("with the service worker: it adds COOP/COEP, the page reloads once, and the CPU path gets its threads", async () => {
    const { server, url } = await serve({ root: www, port: 0, quiet: true, isolated: false });
    const s = await Session.open({ webgpu: false });
    try {
      await s.goto(`${url}?model=${model}&backend=cpu`);
      // The first document is not isolated; the reload under the worker's control is.
      await expect
        .poll(() => s.page.evaluate(() => window.crossOriginIsolated).catch(() => false), { timeout: 120_000, interval: 250 })
        .toBe(true);
      const r = await s.waitReady();
      expect(await s.page.evaluate(() => navigator.serviceWorker.controller !== null)).toBe(true);
      expect(await s.page.evaluate(() => sessionStorage.getItem("acd-isolation-reload"))).toBeNull();
      expect(r.backend).toBe("cpu");
      const cores = await s.page.evaluate(() => navigator.hardwareConcurrency);
      if (cores >= 2) {
        expect(r.cpu?.threads).toBe(Math.min(cores, 16));
        expect(s.requests.some((u) => u.includes("/pkg-threads/"))).toBe(true);
      } else {
        expect(r.cpu?.singleThreadReason).toMatch(/one core/);
      }
      expect((await s.clickSample("grid-hole.png")).ok).toBe(true);
    } finally {
      await s.close();
      await new Promise((ok) => server.close(ok));
    }
  });
});

describe("a large bundle (?confirm-mb=0 makes every bundle large)", () => {
  it("asks first, with the size and the speed measured here; 'Not now' downloads nothing; 'Download it now' loads", async () => {
    const s = await Session.open({ webgpu: false });
    const shardRequests = () => s.requests.filter((u) => u.includes(`/models/${model}/`) && u.endsWith(".safetensors"));
    try {
      await s.goto(`${baseUrl}?model=${model}&backend=cpu&confirm-mb=0`);
      await s.page.waitForSelector("#download-confirm:not([hidden])", { timeout: 120_000 });
      const m = await s.page.evaluate(() => (window as any).__acd.confirmDownload);
      expect(m.bytes).toBeGreaterThan(0);
      expect(m.bytes).toBe(m.totalBytes); // nothing cached yet
      expect(m.backend).toBe("cpu");
      expect(m.estimate.gflop).toBeGreaterThan(0);
      expect(m.estimate.gflopPerSecond).toBeGreaterThan(0.1);
      expect(m.estimate.ms).toBeCloseTo((m.estimate.gflop / m.estimate.gflopPerSecond) * 1e3, 3);
      expect(await s.page.locator("#download-confirm-text").innerText()).toMatch(
        /^This model needs a download of [\d.]+ [kM]B\. One detection is [\d.]+ GFLOP; the CPU \(\d+ threads?\) did [\d.]+ GFLOP\/s here just now, so each detection will take at least/,
      );
      expect(shardRequests()).toEqual([]);

      await s.page.click("#download-no");
      await s.page.waitForFunction(() => (window as any).__acd.state === "declined");
      expect(await s.page.locator("#status-text").innerText()).toBe("The model was not downloaded.");
      expect(shardRequests()).toEqual([]);

      await s.page.click("#download-yes");
      const r = await s.waitReady();
      expect(r.backend).toBe("cpu");
      expect(shardRequests().length).toBeGreaterThan(0);
      expect(await s.page.locator("#download-confirm").isHidden()).toBe(true);
      expect((await s.clickSample("grid-hole.png")).ok).toBe(true);
    } finally {
      await s.close();
    }
  });
});

describe("without WebGPU (no --enable-unsafe-webgpu)", () => {
  it("falls back to the CPU and says why", async () => {
    const s = await Session.open({ webgpu: false });
    try {
      await s.goto(`${baseUrl}?model=${model}`);
      const r = await s.waitReady();
      expect(r.backend).toBe("cpu");
      expect(r.fallbackReason).toMatch(/requestAdapter\(\) found no adapter|no navigator\.gpu/);
      expect(await s.page.locator("#status-detail").innerText()).toMatch(/CPU \(WebAssembly SIMD, (\d+ threads|1 thread: this device reports one core)\) — not WebGPU because/);
      expect((await s.clickSample("grid-hole.png")).ok).toBe(true);
    } finally {
      await s.close();
    }
  });

  it("?backend=webgpu without WebGPU is a clear error, not a silent fallback", async () => {
    const s = await Session.open({ webgpu: false });
    try {
      await s.goto(`${baseUrl}?model=${model}&backend=webgpu`);
      await expect(s.waitReady()).rejects.toThrow(/WebGPU was requested with \?backend=webgpu/);
      expect(await s.page.locator("#error").innerText()).toMatch(/The model could not be loaded/);
    } finally {
      await s.close();
    }
  });
});

describe("broken bundles", () => {
  it("a shard that is corrupt on the server: named, fetched once more, then a clear error", async () => {
    const s = await Session.open({ webgpu: false });
    const victim = manifest.files[0].file as string;
    let served = 0;
    try {
      await s.ctx.route(`**/models/${model}/${victim}`, async (route) => {
        served++;
        const res = await route.fetch();
        const body = Buffer.from(await res.body());
        body[body.length >> 1] ^= 0xff;
        await route.fulfill({ response: res, body });
      });
      await s.goto(`${baseUrl}?model=${model}&backend=cpu`);
      await expect(s.waitReady()).rejects.toThrow(new RegExp(`${victim.replace(/\./g, "\\.")} is corrupt: it fails its SHA-256 check .* after downloading it again`));
      expect(served).toBe(2);
      const notices: string[] = await s.page.evaluate(() => (window as any).__acd.notices);
      expect(notices.some((n) => n.startsWith(`${victim} fails its SHA-256 check`) && n.includes("as downloaded"))).toBe(true);
      // nothing bad was kept in the cache
      const cached = await s.page.evaluate(async (file) => {
        let n = 0;
        for (const name of await caches.keys()) {
          const c = await caches.open(name);
          for (const r of await c.keys()) if (r.url.endsWith(`/${file}`)) n++;
        }
        return n;
      }, victim);
      expect(cached).toBe(0);
    } finally {
      await s.close();
    }
  });


  it("a manifest whose file list reaches outside the bundle folder: the module's check names the entry, nothing is fetched", async () => {
    const s = await Session.open({ webgpu: false });
    try {
      await s.ctx.route(`**/models/${model}/manifest.json`, async (route) => {
        const hostile = { ...manifest, files: [{ ...manifest.files[0], file: "../../index.html" }, ...manifest.files.slice(1)] };
        await route.fulfill({ status: 200, contentType: "application/json", body: JSON.stringify(hostile) });
      });
      await s.goto(`${baseUrl}?model=${model}&backend=cpu`);
      await expect(s.waitReady()).rejects.toThrow(/manifest\.json is not valid: files\[0\]: file name "\.\.\/\.\.\/index\.html" is not a plain relative path/);
      expect(s.requests.filter((u) => /\.safetensors$/.test(new URL(u, baseUrl).pathname))).toEqual([]);
    } finally {
      await s.close();
    }
  });

  it("explains how to get one", async () => {
    const s = await Session.open({ webgpu: false });
    try {
      await s.goto(`${baseUrl}?model=no-such-model&backend=cpu`);
      await expect(s.waitReady()).rejects.toThrow(/no model bundle at .*no-such-model.*HTTP 404/);
    } finally {
      await s.close();
    }
  });
});

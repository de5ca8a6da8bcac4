// "Show it what normal looks like" and "knowing what it does not know", end to end on the trained
// demo bundle (www/models/demo, committed; its categories carry reference memories of their own
// normal textures), on the CPU backend, whatever ACD_E2E_MODEL / ACD_E2E_BACKENDS say: it runs once
// per `npm run e2e` (not selected by the CPU run's -t filter of scripts/test).
//
//   a. tiles (a texture the demo never saw) as "carpet": "Outside what this model knows for carpet";
//   b. 8 normal tile images given through the page's reference input: a tile image with a dark
//      blotch is no longer outside, the result says the page's 8-image memory was used, and the map
//      follows the blotch;
//   c. a reload restores the memory from IndexedDB (same score and map as before);
//   d. "Forget" clears it: the tiles are outside again;
//   e. no request made during the test carries image or memory bytes (only GETs of the site's files,
//      and none at all while building the memory and detecting).
//
// Thresholds (web/README.md gives the values measured): in b the blotch's mean map value must
// exceed the mean more than EDGE_MARGIN px away from it by MIN_CONTRAST and be MIN_RATIO times it,
// with the map's maximum within ARGMAX_SLACK px of it; that difference must be MIN_GAIN above the
// zero-shot map's (a), so the memory is what sharpens it; the blotch image must score MIN_SCORE_GAP
// above a normal tile image; and on a normal tile image the blotch's region must not stand out
// (its difference at most a quarter of the defect's).
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { Detection } from "../src/protocol";
import { origin, readLog, Session } from "./helpers";
import { DEFECT, mapStats, tilePng } from "./textures";

const baseUrl = inject("baseUrl");
const logPath = inject("logPath");
const repoRoot = inject("repoRoot");
const MODEL = "demo";
const CATEGORY = "carpet";
const bundleDir = join(repoRoot, "www", "models", MODEL);

const MIN_CONTRAST = 0.25;
const MIN_RATIO = 2.5;
const ARGMAX_SLACK = 6;
/** gain in contrast (mean inside − mean outside) over the zero-shot map of the same image */
const MIN_GAIN = 0.05;
/** score of the blotch image − score of a normal tile image, both with the page memory */
const MIN_SCORE_GAP = 0.2;
/** the band around the blotch's edge left out of "outside" (one 8-px patch of the demo at 128 px) */
const EDGE_MARGIN = 8;
const OUTSIDE_TEXT = `Outside what this model knows for ${CATEGORY}`;

const REF_SEEDS = [101, 102, 103, 104, 105, 106, 107, 108];
const normalPng = tilePng(201);
const defectPng = tilePng(202, DEFECT);

interface Seen {
  score: number;
  width: number;
  height: number;
  map: number[];
  reference: Detection["reference"];
  domain: Detection["domain"];
}

describe("few-shot reference memory on the demo bundle (CPU)", () => {
  let s: Session;
  const all: { method: string; url: string; body: number }[] = [];
  const measured: string[] = [];
  let beforeReload: Seen;
  let zeroShot: ReturnType<typeof mapStats>;
  /** the server log is shared by the whole run: this test's part starts here */
  let logStart = 0;

  async function detect(name: string, png: Buffer): Promise<Seen> {
    const out = await s.chooseFile(name, png);
    expect(out, out.error ?? "").toEqual({ ok: true, error: null });
    return s.page.evaluate(() => {
      const l = (window as any).__acd.last;
      return {
        score: l.score,
        width: l.width,
        height: l.height,
        map: Array.from(l.map as Float32Array),
        reference: l.detection.reference ?? null,
        domain: l.detection.domain ?? null,
      };
    });
  }

  /** Runs `act` and waits until the page has finished a reference operation (and the detection it starts). */
  async function referenceOp(act: () => Promise<void>): Promise<void> {
    await s.idle();
    const before: number = await s.page.evaluate(() => (window as any).__acd.refEvents);
    await act();
    await s.page.waitForFunction((b) => (window as any).__acd.refEvents > b && !(window as any).__acd.refBusy, before, { timeout: 240_000, polling: 50 });
    await s.idle();
  }

  const verdict = async () => ({
    text: await s.page.locator("#verdict").innerText(),
    kind: await s.page.locator("#verdict-box").getAttribute("data-verdict"),
  });
  const refStatus = () => s.page.locator("#ref-status").innerText();
  const noRequestsDuring = async (what: string, act: () => Promise<void>) => {
    const b = s.requests.length;
    const l = readLog(logPath).length;
    await act();
    await s.frames();
    expect(s.requests.slice(b), `${what}: browser requests`).toEqual([]);
    // (the browser's own update check of the service worker script may fall in the window: it carries nothing)
    const served = readLog(logPath)
      .slice(l)
      .filter((e) => !(e.method === "GET" && new URL(e.url, baseUrl).pathname === "/sw.js"));
    expect(served, `${what}: server requests`).toEqual([]);
  };

  beforeAll(async () => {
    if (!existsSync(join(bundleDir, "manifest.json"))) throw new Error(`no demo bundle at ${bundleDir} (it is committed: restore it)`);
    logStart = readLog(logPath).length;
    s = await Session.open({ webgpu: false });
    s.ctx.on("request", (r) => all.push({ method: r.method(), url: r.url(), body: r.postDataBuffer()?.length ?? 0 }));
    await s.goto(`${baseUrl}?model=${MODEL}&backend=cpu`);
    const ready = await s.waitReady();
    expect(ready.backend).toBe("cpu");
    expect(ready.info.untrained).toBe(false);
    expect(Object.keys(ready.info.references ?? {}), "the demo bundle carries memories of its own categories").toContain(CATEGORY);
    await s.page.selectOption("#category", CATEGORY);
  });

  afterAll(async () => {
    console.log(`[few-shot] measured:\n  ${measured.join("\n  ")}`);
    await s?.close();
  });

  it("a. a texture it never saw is outside what it knows for carpet (bundle memory), with the map still shown", async () => {
    expect(await refStatus()).toMatch(/^Reference memory for carpet: bundle memory, \d+ normal images?/);
    expect(await s.page.locator("#ref-forget").isDisabled()).toBe(true);
    // the blotch image: outside for carpet; its map (zero-shot: the bundle's memory is for the
    // domain check only) is the baseline of b
    const z = await detect("tiles-blotch.png", defectPng);
    expect(z.reference?.source).toBe("bundle");
    expect(z.domain?.outside).toBe(true);
    expect((await verdict()).text).toBe(OUTSIDE_TEXT);
    zeroShot = mapStats(z.map, z.width, z.height, DEFECT, EDGE_MARGIN);
    measured.push(
      `a. blotch as carpet, bundle memory (zero-shot map): farFraction ${z.domain?.farFraction.toFixed(3)}, score ${z.score.toFixed(3)}, ` +
        `map mean inside ${zeroShot.meanIn.toFixed(3)} vs outside ${zeroShot.meanOut.toFixed(3)}, max ${zeroShot.max.toFixed(3)} at (${zeroShot.argmax})`,
    );
    // the normal tiles (this image stays the current one for b)
    const d = await detect("tiles-normal.png", normalPng);
    measured.push(`a. normal tiles as carpet, bundle memory: farFraction ${d.domain?.farFraction.toFixed(3)} (limit ${d.domain?.limit}), score ${d.score.toFixed(3)}`);
    expect(d.reference?.source).toBe("bundle");
    expect(d.domain).not.toBeNull();
    expect(d.domain!.outside).toBe(true);
    expect(d.domain!.farFraction).toBeGreaterThan(d.domain!.limit);
    const v = await verdict();
    expect(v.kind).toBe("outside");
    expect(v.text).toBe(OUTSIDE_TEXT);
    expect(v.text).not.toMatch(/normal|anomalous/i);
    expect(await s.page.locator("#fact-reference").innerText()).toMatch(/^\d+ normal images? \(model bundle/);
    expect(await s.page.locator("#fact-domain").innerText()).toMatch(/^no: \d+% of the patches/);
    // the map is still drawn (the canvas has the image's size)
    const canvas = await s.page.evaluate(() => {
      const c = document.getElementById("view") as HTMLCanvasElement;
      return [c.width, c.height];
    });
    expect(canvas).toEqual([d.width, d.height]);
  });

  it("b. more than 16 reference images are refused with a message", async () => {
    const files = Array.from({ length: 17 }, (_, i) => ({ name: `ref-${i}.png`, mimeType: "image/png", buffer: tilePng(300 + i) }));
    const errorsBefore: number = await s.page.evaluate(() => (window as any).__acd.errors.length);
    await s.page.setInputFiles("#ref-files", files);
    await s.page.waitForFunction((b) => (window as any).__acd.errors.length > b, errorsBefore, { timeout: 10_000 });
    expect(await s.page.locator("#error-title").innerText()).toBe("Too many images:");
    expect(await s.page.locator("#error-text").innerText()).toMatch(/1 to 16 normal images; you gave 17/);
    expect(await refStatus()).toMatch(/bundle memory/);
  });

  it("b. 8 normal images as references: the blotch is found, inside the domain, with the page's memory", async () => {
    const files = REF_SEEDS.map((seed) => ({ name: `tiles-${seed}.png`, mimeType: "image/png", buffer: tilePng(seed) }));
    // building the memory (and the detection it re-runs on the current image) asks the network nothing
    await noRequestsDuring("building the memory", () => referenceOp(() => s.page.setInputFiles("#ref-files", files)));
    expect(await s.page.locator("#error").isHidden()).toBe(true);
    expect(await refStatus()).toMatch(/^Reference memory for carpet: 8 normal images, kept in this browser/);
    expect(await s.page.locator("#ref-forget").isEnabled()).toBe(true);

    // the current image (normal tiles) was analysed again with the new memory
    const normal = await s.page.evaluate(() => {
      const l = (window as any).__acd.last;
      return { score: l.score, width: l.width, height: l.height, map: Array.from(l.map as Float32Array), reference: l.detection.reference, domain: l.detection.domain };
    });
    expect(normal.reference).toMatchObject({ images: 8, source: "page" });
    expect(normal.domain?.outside).toBe(false);
    const ns = mapStats(normal.map, normal.width, normal.height, DEFECT, EDGE_MARGIN);
    measured.push(
      `b. normal tiles with the page memory: farFraction ${normal.domain?.farFraction.toFixed(3)}, score ${normal.score.toFixed(3)}, ` +
        `map mean in the blotch's place ${ns.meanIn.toFixed(3)} vs elsewhere ${ns.meanOut.toFixed(3)}, max ${ns.max.toFixed(3)}, verdict "${(await verdict()).text}"`,
    );

    let d!: Seen;
    await noRequestsDuring("detecting with the memory", async () => {
      d = await detect("tiles-blotch.png", defectPng);
    });
    expect(d.reference).toMatchObject({ images: 8, source: "page" });
    expect(d.domain).not.toBeNull();
    expect(d.domain!.outside).toBe(false);
    const v = await verdict();
    expect(v.kind).not.toBe("outside");
    expect(v.text).toMatch(/^(Normal|Anomalous) \(score/);
    expect(await s.page.locator("#fact-reference").innerText()).toBe("8 normal images (this browser)");
    expect(await s.page.locator("#fact-domain").innerText()).toMatch(/^yes: \d+% of the patches/);

    const st = mapStats(d.map, d.width, d.height, DEFECT, EDGE_MARGIN);
    measured.push(
      `b. blotch with the page memory: farFraction ${d.domain!.farFraction.toFixed(3)}, score ${d.score.toFixed(3)}, verdict "${v.text}", ` +
        `map mean inside ${st.meanIn.toFixed(3)} vs outside ${st.meanOut.toFixed(3)}, max ${st.max.toFixed(3)} at (${st.argmax}) = ${st.argmaxOutside.toFixed(1)} px from the blotch`,
    );
    expect(st.meanIn - st.meanOut).toBeGreaterThanOrEqual(MIN_CONTRAST);
    expect(st.meanIn).toBeGreaterThanOrEqual(MIN_RATIO * st.meanOut);
    expect(st.argmaxOutside).toBeLessThanOrEqual(ARGMAX_SLACK);
    // the same place on a normal image does not stand out: it is the blotch, not the location
    expect(Math.abs(ns.meanIn - ns.meanOut)).toBeLessThanOrEqual(0.25 * (st.meanIn - st.meanOut));
    // the memory sharpens the map at the blotch compared with the zero-shot map of a
    expect(st.meanIn - st.meanOut).toBeGreaterThanOrEqual(zeroShot.meanIn - zeroShot.meanOut + MIN_GAIN);
    // and the score follows the blotch
    expect(d.score - normal.score).toBeGreaterThanOrEqual(MIN_SCORE_GAP);
    beforeReload = d;
  });

  it("c. a reload restores the memory from this browser's storage", async () => {
    await s.page.reload();
    await s.waitReady();
    expect(await s.page.evaluate(() => (window as any).__acd.refRestored)).toBe(1);
    await s.page.selectOption("#category", CATEGORY);
    expect(await refStatus()).toMatch(/^Reference memory for carpet: 8 normal images, kept in this browser/);
    const notices: string[] = await s.page.evaluate(() => (window as any).__acd.notices);
    expect(notices.filter((n) => /reference memory/i.test(n))).toEqual([]);
    let d!: Seen;
    await noRequestsDuring("detecting with the restored memory", async () => {
      d = await detect("tiles-blotch.png", defectPng);
    });
    expect(d.reference).toMatchObject({ images: 8, source: "page" });
    expect(await s.page.locator("#fact-reference").innerText()).toBe("8 normal images (this browser)");
    // the restored memory is the one that was built: same score and map
    expect(Math.abs(d.score - beforeReload.score)).toBeLessThanOrEqual(1e-6);
    let maxDiff = 0;
    for (let i = 0; i < d.map.length; i++) maxDiff = Math.max(maxDiff, Math.abs(d.map[i] - beforeReload.map[i]));
    measured.push(`c. after the reload: |Δscore| ${Math.abs(d.score - beforeReload.score).toExponential(1)}, max |Δmap| ${maxDiff.toExponential(1)}`);
    expect(maxDiff).toBeLessThanOrEqual(1e-5);
  });

  it("d. Forget: no page memory any more, and the tiles are outside again", async () => {
    await noRequestsDuring("forgetting", () => referenceOp(() => s.page.click("#ref-forget")));
    const status = await refStatus();
    expect(status).not.toMatch(/kept in this browser/);
    expect(status).toMatch(/^Reference memory for carpet: bundle memory/);
    expect(await s.page.locator("#ref-forget").isDisabled()).toBe(true);
    // gone from IndexedDB too
    const stored = await s.page.evaluate(
      () =>
        new Promise<number>((resolve, reject) => {
          const req = indexedDB.open("acd-references");
          req.onerror = () => reject(req.error);
          req.onsuccess = () => {
            const tx = req.result.transaction("memories", "readonly");
            const c = tx.objectStore("memories").count();
            c.onsuccess = () => resolve(c.result);
            c.onerror = () => reject(c.error);
          };
        }),
    );
    expect(stored).toBe(0);
    const d = await detect("tiles-normal.png", normalPng);
    measured.push(`d. after Forget: farFraction ${d.domain?.farFraction.toFixed(3)}`);
    expect(d.reference?.source).toBe("bundle");
    expect(d.domain?.outside).toBe(true);
    const v = await verdict();
    expect(v.kind).toBe("outside");
    expect(v.text).toBe(OUTSIDE_TEXT);
  });

  it("e. no request carried image or memory bytes: only GETs of the site's own files", async () => {
    expect(all.length).toBeGreaterThan(0);
    const site = origin(baseUrl);
    const bad = all.filter((r) => {
      if (r.url.startsWith("data:") || r.url.startsWith("blob:")) return false;
      return r.method !== "GET" || r.body > 0 || origin(r.url) !== site;
    });
    expect(bad).toEqual([]);
    // and what the server saw: GETs of index, assets, runtime, bundle and service worker only
    const mine = readLog(logPath).slice(logStart);
    expect(mine.length).toBeGreaterThan(0);
    const paths = mine.map((e) => ({ method: e.method, path: new URL(e.url, baseUrl).pathname }));
    // (pkg-threads: the multi-threaded CPU module and its worker helper from wasm-bindgen-rayon)
    const allowed =
      /^\/(|index\.html|sw\.js|assets\/[^/]+|pkg\/[^/]+|pkg-threads\/(?:[^/]+|snippets\/[^/]+\/src\/[^/]+)|samples\/[^/]+\.png|models\/demo\/[^/]+)$/;
    expect(paths.filter((p) => p.method !== "GET" || !allowed.test(p.path))).toEqual([]);
    expect(JSON.stringify(mine)).not.toMatch(/tiles-|blotch|ref-\d/);
  });
});

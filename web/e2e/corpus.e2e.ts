// The hostile-image corpus (tests/corpus/images, scripts/make-image-corpus.py) through the page's
// detect path: every good file is analysed at its expected size and shown upright (EXIF applied,
// first frame of animations), every bad file gives an error naming the file and the problem, the
// next valid image works after each error, and no wasm panic or trap (worker restart) happens.
// The page uses the default decode limits; expected.json's `default_limits` says how a file that
// is bad only under the corpus's smaller limits decodes with them.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { Session } from "./helpers";

const baseUrl = inject("baseUrl");
const model = inject("model");
const repoRoot = inject("repoRoot");
const dir = join(repoRoot, "tests", "corpus", "images");

interface OkWant {
  width: number;
  height: number;
  tol: number;
  pixels: [number, number, number[]][];
}
interface Want {
  ok?: OkWant;
  error?: string[];
  default_limits?: { width: number; height: number };
}
const expected: { files: Record<string, Want> } = JSON.parse(readFileSync(join(dir, "expected.json"), "utf8"));
const names = Object.keys(expected.files).sort();
const MIME: Record<string, string> = {
  png: "image/png",
  jpg: "image/jpeg",
  gif: "image/gif",
  bmp: "image/bmp",
  webp: "image/webp",
  tif: "image/tiff",
};
// What Chromium itself can show (TIFF it cannot: the page then shows no picture, only the map).
const DISPLAYED = new Set(["png", "jpg", "gif", "bmp", "webp"]);
// Files whose picture differs on the canvas by design or by the browser, so only their size is
// compared: alpha is shown by the browser (the model drops it); a 1-pixel-wide image is all
// outline; Chromium does not apply a WebP's EXIF orientation (the model does: known mismatch).
const NO_PIXEL_CHECK = /alpha|rgba|transparent|thin|exif_\d\.webp/;
const ext = (n: string) => n.slice(n.lastIndexOf(".") + 1);

describe("the image corpus in the page", () => {
  let s: Session;
  const workerLog: string[] = [];
  const good = readFileSync(join(dir, "ok_rgb.png"));

  beforeAll(async () => {
    s = await Session.open({ webgpu: false });
    s.page.on("worker", (w) => w.on("console", (m) => workerLog.push(m.text())));
    await s.goto(`${baseUrl}?model=${model}&backend=cpu`);
    await s.waitReady();
    await s.setSlider("opacity", 0); // the canvas shows the picture alone
  });
  afterAll(async () => {
    await s?.close();
  });

  it("lists the same files as the folder", () => {
    const onDisk = readdirSync(dir).filter((n) => n !== "expected.json").sort();
    expect(onDisk).toEqual(names);
  });

  it.each(names)("%s", async (name) => {
    const want = expected.files[name];
    const out = await s.chooseFile(name, readFileSync(join(dir, name)), MIME[ext(name)]);
    const size = want.ok ?? want.default_limits;
    if (size) {
      expect(out, `${name}: ${out.error}`).toEqual({ ok: true, error: null });
      const st = await s.lastStats();
      expect([st.width, st.height]).toEqual([size.width, size.height]);
      if (want.ok && DISPLAYED.has(ext(name)) && !NO_PIXEL_CHECK.test(name)) {
        // the browser's picture has the model's size and orientation: quadrant colours in place
        const canvas = await s.page.evaluate(() => {
          const c = document.getElementById("view") as HTMLCanvasElement;
          return [c.width, c.height];
        });
        expect(canvas).toEqual([size.width, size.height]);
        await s.frames();
        const got = await s.pixels(want.ok.pixels.map(([x, y]) => [x, y] as [number, number]));
        want.ok.pixels.forEach(([x, y, rgb], i) => {
          const off = rgb.map((c, k) => Math.abs(c - got[i][k]));
          expect(Math.max(...off), `${name} (${x}, ${y}): ${got[i]} vs ${rgb}`).toBeLessThanOrEqual(want.ok!.tol + 2);
        });
      }
    } else {
      expect(out.ok).toBe(false);
      const msg = out.error ?? "";
      expect(msg).toMatch(new RegExp(`^Could not (analyse|use) ${name.replace(/\./g, "\\.")}`));
      for (const w of want.error!) expect(msg.toLowerCase()).toContain(w.toLowerCase());
      expect(await s.page.locator("#error").isVisible()).toBe(true);
      // and the next valid image works
      const next = await s.chooseFile("ok_rgb.png", good);
      expect(next).toEqual({ ok: true, error: null });
    }
  });

  it("had no panic, no trap and no worker restart", async () => {
    const restarts = await s.page.evaluate(() => (window as any).__acd.restarts as string[]);
    expect(restarts).toEqual([]);
    const all = [...s.consoleErrors, ...workerLog];
    expect(all.filter((m) => /panicked|unreachable|RuntimeError/i.test(m))).toEqual([]);
  });
});

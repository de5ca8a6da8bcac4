// Screenshots for the docs (initial state, a result with its overlay, an error), taken only when
// ACD_SCREENSHOTS_DIR is set:   npm run screenshots   (writes ../docs/screenshots/*.png)
import { mkdirSync } from "node:fs";
import { resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { Session } from "./helpers";

const dir = process.env.ACD_SCREENSHOTS_DIR;
const baseUrl = inject("baseUrl");
const model = inject("model");

describe.skipIf(!dir)("screenshots", () => {
  let s: Session;
  const out = resolve(dir ?? ".");
  beforeAll(async () => {
    mkdirSync(out, { recursive: true });
    s = await Session.open({ webgpu: true, viewport: { width: 1280, height: 900 } });
    await s.goto(`${baseUrl}?model=${model}`);
    await s.waitReady();
  });
  afterAll(async () => s?.close());

  it("initial state", async () => {
    await s.page.screenshot({ path: `${out}/page-initial.png`, fullPage: true });
  });

  it("a result with the overlay", async () => {
    expect((await s.clickSample("fabric-spot.png")).ok).toBe(true);
    // outline the top tenth of the map (a random model's map is flat), at least p = 0.5
    const t = await s.page.evaluate(() => {
      const m = Float32Array.from((window as any).__acd.last.map as Float32Array).sort();
      return Math.max(0.5, Math.round(m[Math.floor(m.length * 0.9)] * 100) / 100);
    });
    await s.setSlider("threshold", t);
    await s.setSlider("opacity", 0.5);
    await s.page.screenshot({ path: `${out}/page-result.png`, fullPage: true });
    await s.page.locator("#how").screenshot({ path: `${out}/page-how-it-works.png` });
  });

  it("an error", async () => {
    const r = await s.chooseFile("notes.txt", Buffer.from("not an image\n".repeat(40)), "text/plain");
    expect(r.ok).toBe(false);
    await s.page.evaluate(() => window.scrollTo(0, 0));
    await s.page.screenshot({ path: `${out}/page-error.png`, fullPage: false });
  });
});

// Calibrated thresholds (`acd calibrate`) in the page, on the CPU backend, once per `npm run e2e`
// (not selected by the CPU run's -t filter of scripts/test):
//
//   a. a calibrated copy of the e2e bundle, made here with
//        acd calibrate --bundle www/models/<e2e model> --out www/models/e2e-calibrated-<pid>
//          --textures carpet --category carpet --per-class 40 --target-fpr 0.1 --texture-seed 5
//      (www/models/e2e-*/ is git-ignored, and the folder is removed afterwards): the model card lists
//      its calibration; a carpet detection is judged by the manifest's image threshold (the slider
//      shows it) and outlined at its pixel threshold, and the line says
//      "Threshold 0.xx: calibrated on 40 normal images at a 10% false-positive rate";
//   b. moving the slider: "set by hand", used for the verdict and the outline, kept for the next
//      image; another category (uncalibrated) is back to the model's threshold, "not calibrated",
//      and carpet again is calibrated again;
//   c. the plain e2e bundle: "Threshold 0.50: default, not calibrated".
//
// Needs the acd binary (ACD_BIN, default target/release/acd).
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { ReadyMsg } from "../src/protocol";
import { Session } from "./helpers";
import { tilePng } from "./textures";

const baseUrl = inject("baseUrl");
const model = inject("model");
const repoRoot = inject("repoRoot");
const www = join(repoRoot, "www");
const baseBundle = join(www, "models", model);
const CALIBRATED = `e2e-calibrated-${process.pid}`;
const calibratedDir = join(www, "models", CALIBRATED);
const CATEGORY = "carpet";
const SOURCE = "calibrated on 40 normal images at a 10% false-positive rate";
const bin = process.env.ACD_BIN || join(repoRoot, "target/release/acd");

interface ManifestCalibration {
  image_threshold: number;
  pixel_threshold: number;
  method: string;
  target_fpr?: number;
  normal_images: number;
  anomalous_images: number;
  with_reference?: boolean;
}

/** The page's state of the threshold (window.__acd.threshold). */
interface Applied {
  image: number;
  pixel: number;
  byHand: boolean;
  calibrated: boolean;
  source: string;
}

describe("calibrated thresholds in the page (CPU)", () => {
  let s: Session;
  let cal: ManifestCalibration;
  let untrained: boolean;
  let other: string;
  /** the manifest's thresholds as the wasm module passes them on (f32) */
  let image: number;
  let pixel: number;

  const line = () => s.page.locator("#threshold-line").innerText();
  const lineSource = () => s.page.locator("#threshold-line").getAttribute("data-source");
  const applied = () => s.page.evaluate(() => (window as any).__acd.threshold as Applied | null);
  const slider = async () => ({
    value: Number(await s.page.locator("#threshold").inputValue()),
    shown: await s.page.locator("#threshold-out").innerText(),
  });
  /** the outlined share of the last map at `t`, as the page words it */
  const areaAt = (t: number) =>
    s.page.evaluate((t) => {
      const m: Float32Array = (window as any).__acd.last.map;
      let n = 0;
      for (const v of m) if (v >= t) n++;
      return `${((n / m.length) * 100).toFixed(1)}% of the pixels`;
    }, t);
  const detect = async (seed: number) => {
    const out = await s.chooseFile(`tiles-${seed}.png`, tilePng(seed));
    expect(out, out.error ?? "").toEqual({ ok: true, error: null });
  };
  const choose = async (category: string) => {
    // with an image on show, a category change runs a detection
    const out = await s.expectOutcome(() => s.page.selectOption("#category", category).then(() => undefined));
    expect(out, out.error ?? "").toEqual({ ok: true, error: null });
  };

  beforeAll(async () => {
    if (!existsSync(join(baseBundle, "manifest.json"))) throw new Error(`no e2e bundle at ${baseBundle}`);
    if (!existsSync(bin)) throw new Error(`no acd binary at ${bin}: build it (cargo build --release -p acd-cli) or set ACD_BIN`);
    const base = JSON.parse(readFileSync(join(baseBundle, "manifest.json"), "utf8"));
    const keys: string[] = base.categories.map((c: { key: string }) => c.key);
    if (!keys.includes(CATEGORY)) throw new Error(`the e2e bundle ${model} has no category ${CATEGORY} (it has ${keys.join(", ")})`);
    other = keys.find((k) => k !== CATEGORY && !base.categories.find((c: { key: string; calibration?: unknown }) => c.key === k).calibration)!;
    expect(other, "an uncalibrated category besides carpet").toBeTruthy();
    rmSync(calibratedDir, { recursive: true, force: true });
    // (stdout: a table of the thresholds; it goes to the test log)
    const table = execFileSync(
      bin,
      [
        "calibrate",
        "--bundle", baseBundle,
        "--out", calibratedDir,
        "--textures", CATEGORY,
        "--category", CATEGORY,
        "--per-class", "40",
        "--target-fpr", "0.1",
        "--texture-seed", "5",
      ],
      { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] },
    );
    console.log(`[calibration] acd calibrate:\n${table}`);
    const manifest = JSON.parse(readFileSync(join(calibratedDir, "manifest.json"), "utf8"));
    untrained = manifest.untrained === true;
    const entry = manifest.categories.find((c: { key: string }) => c.key === CATEGORY);
    cal = entry.calibration;
    expect(cal).toMatchObject({ method: "target_fpr", target_fpr: 0.1, normal_images: 40 });
    image = Math.fround(cal.image_threshold);
    pixel = Math.fround(cal.pixel_threshold);
    // only carpet was calibrated
    expect(manifest.categories.filter((c: { calibration?: unknown }) => c.calibration).map((c: { key: string }) => c.key)).toEqual([CATEGORY]);
    s = await Session.open({ webgpu: false });
  });

  afterAll(async () => {
    await s?.close();
    rmSync(calibratedDir, { recursive: true, force: true });
  });

  it("a. the calibrated bundle: the card lists it; carpet is judged by its thresholds, and the page says so", async () => {
    await s.goto(`${baseUrl}?model=${CALIBRATED}&backend=cpu`);
    const ready: ReadyMsg = await s.waitReady();
    expect(ready.backend).toBe("cpu");
    expect(ready.info.calibrations?.[CATEGORY]).toEqual({
      imageThreshold: image,
      pixelThreshold: pixel,
      method: "target_fpr",
      targetFpr: 0.1,
      normalImages: 40,
      anomalousImages: cal.anomalous_images,
      withReference: cal.with_reference ?? false,
      source: SOURCE,
    });
    expect(Object.keys(ready.info.calibrations ?? {})).toEqual([CATEGORY]);
    const card = await s.page.locator("#card-calibrations").innerText();
    expect(card).toContain(`${CATEGORY}: image ${image.toFixed(2)}, outline ${pixel.toFixed(2)}, ${SOURCE}`);
    expect(card).toMatch(/default 0\.5, not calibrated/); // the other categories

    // no detection yet: no line
    expect(await s.page.locator("#threshold-line").isHidden()).toBe(true);
    await s.page.selectOption("#category", CATEGORY);
    await detect(201);
    const d = await s.page.evaluate(() => (window as any).__acd.last.detection.threshold);
    expect(d).toEqual({ image, pixel, calibrated: true, source: SOURCE });
    // the line, the slider and what the verdict and the outline use
    const words = pixel.toFixed(2) === image.toFixed(2) ? SOURCE : `${SOURCE} (outline at ${pixel.toFixed(2)})`;
    expect(await line()).toBe(`Threshold ${image.toFixed(2)}: ${words}`);
    expect(await lineSource()).toBe("calibrated");
    const sl = await slider();
    expect(sl.shown).toBe(image.toFixed(2));
    expect(Math.abs(sl.value - image)).toBeLessThanOrEqual(0.005 + 1e-9); // the slider's step is 0.01
    expect(await applied()).toEqual({ image, pixel, byHand: false, calibrated: true, source: SOURCE });
    expect(await s.page.locator("#fact-area").innerText()).toBe(await areaAt(pixel));
    // an untrained bundle still gets no verdict, calibrated or not
    if (untrained) expect(await s.page.locator("#verdict-box").getAttribute("data-verdict")).toBe("none");
    else expect(await s.page.locator("#verdict").innerText()).toContain(`${image.toFixed(2)})`);
  });

  it("b. by hand until the category changes; another category has its own (uncalibrated) threshold", async () => {
    await s.setSlider("threshold", 0.6);
    expect(await line()).toBe("Threshold 0.60: set by hand");
    expect(await lineSource()).toBe("hand");
    expect(await applied()).toEqual({ image: 0.6, pixel: 0.6, byHand: true, calibrated: false, source: "set by hand" });
    expect(await s.page.locator("#fact-area").innerText()).toBe(await areaAt(0.6));
    // the next image of the same category keeps the value set by hand
    await detect(202);
    expect(await line()).toBe("Threshold 0.60: set by hand");
    expect((await slider()).shown).toBe("0.60");

    // another category, not calibrated: the model's default, said to be so
    await choose(other);
    expect(await s.page.evaluate(() => (window as any).__acd.last.detection.threshold)).toEqual({
      image: 0.5,
      pixel: 0.5,
      calibrated: false,
      source: "default 0.5, not calibrated",
    });
    expect(await line()).toBe("Threshold 0.50: default, not calibrated");
    expect(await lineSource()).toBe("default");
    expect(await slider()).toEqual({ value: 0.5, shown: "0.50" });

    // back to carpet: calibrated again (the value by hand was for before)
    await choose(CATEGORY);
    expect(await line()).toMatch(new RegExp(`^Threshold ${image.toFixed(2)}: ${SOURCE}`));
    expect((await slider()).shown).toBe(image.toFixed(2));
    expect((await applied())?.byHand).toBe(false);
  });

  it("c. the plain e2e bundle: default threshold, not calibrated", async () => {
    await s.goto(`${baseUrl}?model=${model}&backend=cpu`);
    const ready = await s.waitReady();
    expect(ready.info.calibrations?.[CATEGORY]).toBeUndefined();
    expect(await s.page.locator("#card-calibrations").innerText()).toBe("none in the bundle: the page judges by the default 0.5, not calibrated");
    await s.page.selectOption("#category", CATEGORY);
    await detect(201);
    expect(await line()).toBe("Threshold 0.50: default, not calibrated");
    expect(await lineSource()).toBe("default");
    expect(await slider()).toEqual({ value: 0.5, shown: "0.50" });
    expect(await applied()).toEqual({ image: 0.5, pixel: 0.5, byHand: false, calibrated: false, source: "default 0.5, not calibrated" });
  });
});

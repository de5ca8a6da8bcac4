// Which threshold judges the score and draws the outline, and the line that says where it came from.
//
//   - after each detection the model's own threshold applies (`detection.threshold`): calibrated by
//     `acd calibrate` when the calibration holds for the scores of this detection, else the default
//     0.5, marked as not calibrated; the verdict uses its image threshold, the outline its pixel one;
//   - once the user moves the slider, its value is used for both, until the category changes or a
//     model is (re)loaded (the page then forgets it: main.ts);
//   - a module without thresholds (older builds) gets the default, not calibrated.

import type { Threshold } from "./protocol";

/** The page's default threshold (the slider's initial value, the model's default). */
export const DEFAULT_THRESHOLD = 0.5;

export interface AppliedThreshold {
  /** image score at or above which the image is anomalous */
  image: number;
  /** map value at or above which a pixel is inside the outline */
  pixel: number;
  /** the slider was moved by hand for this category */
  byHand: boolean;
  /** a calibration that holds for this detection (false when set by hand) */
  calibrated: boolean;
  /** where it came from, in words (the model's words; "set by hand") */
  source: string;
}

/** The threshold the model gives when it gives none (an older module). */
export const UNCALIBRATED_DEFAULT: Threshold = {
  image: DEFAULT_THRESHOLD,
  pixel: DEFAULT_THRESHOLD,
  calibrated: false,
  source: `default ${DEFAULT_THRESHOLD}, not calibrated`,
};

const clamp01 = (x: number) => Math.min(1, Math.max(0, x));
const usable = (x: unknown): x is number => typeof x === "number" && Number.isFinite(x);

/**
 * The threshold for a detection whose model threshold is `fromModel` (absent in older modules),
 * given the slider's value set by hand since the category or the model last changed (null: none).
 */
export function applicableThreshold(fromModel: Threshold | null | undefined, manual: number | null): AppliedThreshold {
  if (manual !== null && usable(manual)) {
    const v = clamp01(manual);
    return { image: v, pixel: v, byHand: true, calibrated: false, source: "set by hand" };
  }
  const t = fromModel && usable(fromModel.image) && usable(fromModel.pixel) ? fromModel : UNCALIBRATED_DEFAULT;
  return {
    image: clamp01(t.image),
    pixel: clamp01(t.pixel),
    byHand: false,
    calibrated: t.calibrated === true,
    source: typeof t.source === "string" && t.source.trim() ? t.source.trim() : UNCALIBRATED_DEFAULT.source,
  };
}

/**
 * "Threshold 0.42: calibrated on 200 normal images at a 1% false-positive rate (outline at 0.61)",
 * "Threshold 0.50: default, not calibrated", "Threshold 0.60: set by hand".
 * An uncalibrated threshold always says "not calibrated", whatever words it came with; the outline's
 * threshold is named when it differs from the image's (as shown, to 2 decimals).
 */
export function thresholdLine(t: AppliedThreshold): string {
  const head = `Threshold ${t.image.toFixed(2)}`;
  if (t.byHand) return `${head}: set by hand`;
  // "default 0.5, not calibrated…": the number is already in the head
  let words = t.source.replace(/^default\s+\d+(?:\.\d+)?\s*,\s*/i, "default, ");
  if (!t.calibrated && !/\bnot calibrated\b/i.test(words)) words = `${words} (not calibrated)`;
  const outline = t.pixel.toFixed(2) !== t.image.toFixed(2) ? ` (outline at ${t.pixel.toFixed(2)})` : "";
  return `${head}: ${words}${outline}`;
}

import { describe, expect, it } from "vitest";
import type { Threshold } from "../src/protocol";
import { applicableThreshold, DEFAULT_THRESHOLD, thresholdLine, UNCALIBRATED_DEFAULT } from "../src/threshold";

const calibrated: Threshold = {
  image: 0.4237,
  pixel: 0.6105,
  calibrated: true,
  source: "calibrated on 200 normal images at a 1% false-positive rate",
};
const uncalibrated: Threshold = { image: 0.5, pixel: 0.5, calibrated: false, source: "default 0.5, not calibrated" };
const ownMemory: Threshold = {
  image: 0.5,
  pixel: 0.5,
  calibrated: false,
  source: "default 0.5, not calibrated: a reference memory of your own changes the scores the calibration was made on",
};

describe("which threshold applies", () => {
  it("the model's: image threshold for the verdict, pixel threshold for the outline, exact (not the slider's step)", () => {
    const t = applicableThreshold(calibrated, null);
    expect(t).toEqual({ image: 0.4237, pixel: 0.6105, byHand: false, calibrated: true, source: calibrated.source });
  });

  it("the slider's value by hand, for both the verdict and the outline, never called calibrated", () => {
    const t = applicableThreshold(calibrated, 0.6);
    expect(t).toEqual({ image: 0.6, pixel: 0.6, byHand: true, calibrated: false, source: "set by hand" });
    // 0 by hand is a value, not "none"
    expect(applicableThreshold(calibrated, 0)).toMatchObject({ image: 0, pixel: 0, byHand: true });
    // a broken slider value falls back to the model's threshold
    expect(applicableThreshold(calibrated, Number.NaN)).toMatchObject({ image: 0.4237, byHand: false });
  });

  it("an older module (no threshold) or a malformed one: the default, not calibrated", () => {
    for (const t of [undefined, null, { ...calibrated, image: Number.NaN }, { ...calibrated, pixel: Infinity }]) {
      const a = applicableThreshold(t as Threshold | undefined, null);
      expect(a).toEqual({ image: DEFAULT_THRESHOLD, pixel: DEFAULT_THRESHOLD, byHand: false, calibrated: false, source: UNCALIBRATED_DEFAULT.source });
    }
  });

  it("clamps to [0, 1] (an f32 threshold one step above 1) and keeps 'calibrated' only when the model says so", () => {
    expect(applicableThreshold({ ...calibrated, image: 1.0000001 }, null).image).toBe(1);
    expect(applicableThreshold({ ...calibrated, calibrated: "yes" as unknown as boolean }, null).calibrated).toBe(false);
    expect(applicableThreshold({ ...calibrated, source: "  " }, null).source).toBe("default 0.5, not calibrated");
  });
});

describe("the line saying where the threshold came from", () => {
  it("calibrated: the model's words, and the outline's own threshold when it differs", () => {
    expect(thresholdLine(applicableThreshold(calibrated, null))).toBe(
      "Threshold 0.42: calibrated on 200 normal images at a 1% false-positive rate (outline at 0.61)",
    );
    expect(thresholdLine(applicableThreshold({ ...calibrated, pixel: 0.421 }, null))).toBe(
      "Threshold 0.42: calibrated on 200 normal images at a 1% false-positive rate",
    );
  });

  it("uncalibrated: 'default, not calibrated', with the model's reason kept", () => {
    expect(thresholdLine(applicableThreshold(uncalibrated, null))).toBe("Threshold 0.50: default, not calibrated");
    expect(thresholdLine(applicableThreshold(undefined, null))).toBe("Threshold 0.50: default, not calibrated");
    expect(thresholdLine(applicableThreshold(ownMemory, null))).toBe(
      "Threshold 0.50: default, not calibrated: a reference memory of your own changes the scores the calibration was made on",
    );
  });

  it("an uncalibrated threshold says 'not calibrated' even when its words do not", () => {
    const line = thresholdLine(applicableThreshold({ image: 0.3, pixel: 0.3, calibrated: false, source: "from somewhere" }, null));
    expect(line).toBe("Threshold 0.30: from somewhere (not calibrated)");
    // and a calibrated one is not marked so
    expect(thresholdLine(applicableThreshold(calibrated, null))).not.toMatch(/not calibrated/);
  });

  it("by hand: 'set by hand', whatever the model said", () => {
    expect(thresholdLine(applicableThreshold(calibrated, 0.6))).toBe("Threshold 0.60: set by hand");
    expect(thresholdLine(applicableThreshold(uncalibrated, 0.05))).toBe("Threshold 0.05: set by hand");
  });
});

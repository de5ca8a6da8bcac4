import { describe, expect, it } from "vitest";
import { bundleReferencesText, calibrationsText, knowsSentence, uncalibratedText } from "../src/panels";
import type { Calibration } from "../src/protocol";

describe("model card: what the model knows", () => {
  it("opens with one plain sentence from trainedOn", () => {
    expect(knowsSentence({ untrained: false, trainedOn: "the project's procedural textures (carpet, woven fabric, wood)." })).toBe(
      "Knows: the project's procedural textures (carpet, woven fabric, wood). Anything else is outside what it knows; it says so when it can tell.",
    );
  });
  it("says an untrained bundle knows nothing, and a training-free one only CLIP", () => {
    expect(knowsSentence({ untrained: true, trainedOn: null })).toMatch(/^Knows: nothing\. .*not a detector/);
    expect(knowsSentence({ untrained: false, trainedOn: null, trainingFree: true })).toMatch(/^Knows: only what CLIP learned/);
    expect(knowsSentence({ untrained: false, trainedOn: null })).toMatch(/does not say what it was trained on/);
  });
  it("lists the bundle's own reference memories", () => {
    expect(bundleReferencesText(undefined)).toBeNull();
    expect(bundleReferencesText({})).toBeNull();
    expect(
      bundleReferencesText({
        carpet: { images: 8, patches: [64, 64], source: "bundle" },
        wood: { images: 1, patches: [64, 64], source: "bundle" },
      }),
    ).toBe("carpet (8 normal images), wood (1 normal image)");
    expect(bundleReferencesText({ carpet: { images: 16, patches: [1024], source: "bundle", domainOnly: true } })).toBe(
      "carpet (16 normal images); for the out-of-domain check only (the maps stay zero-shot)",
    );
  });
  it("lists each calibrated category with its thresholds and where they came from", () => {
    const carpet: Calibration = {
      imageThreshold: 0.4237,
      pixelThreshold: 0.6105,
      method: "target_fpr",
      targetFpr: 0.01,
      normalImages: 200,
      anomalousImages: 200,
      withReference: false,
      source: "calibrated on 200 normal images at a 1% false-positive rate",
    };
    const wood: Calibration = { ...carpet, method: "f1_max", targetFpr: null, withReference: true, source: "calibrated at F1-max on 40 normal and 40 anomalous images" };
    expect(calibrationsText(undefined)).toBeNull();
    expect(calibrationsText({})).toBeNull();
    expect(calibrationsText({ carpet, wood })).toEqual([
      "carpet: image 0.42, outline 0.61, calibrated on 200 normal images at a 1% false-positive rate",
      "wood: image 0.42, outline 0.61, calibrated at F1-max on 40 normal and 40 anomalous images (with the bundle's reference memory; it holds only while that memory is in use)",
    ]);
    const cats = (keys: string[]) => keys.map((key) => ({ key, realName: key }));
    // the categories without one say so
    expect(uncalibratedText(cats(["carpet", "wood"]), undefined)).toBe("none in the bundle: the page judges by the default 0.5, not calibrated");
    expect(uncalibratedText(cats(["carpet", "wood"]), { carpet })).toBe("wood: default 0.5, not calibrated");
    expect(uncalibratedText(cats(["carpet", "wood"]), { carpet, wood })).toBeNull();
    expect(uncalibratedText(cats(["carpet", "a", "b", "c", "d", "e"]), { carpet })).toBe("the other 5 categories: default 0.5, not calibrated");
  });
});

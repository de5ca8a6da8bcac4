import { describe, expect, it } from "vitest";
import { bundleReferencesText, knowsSentence } from "../src/panels";

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
});

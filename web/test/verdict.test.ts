import { describe, expect, it } from "vitest";
import { outsideText, verdictFor } from "../src/verdict";

const trained = { untrained: false, trainingFree: false };
const inside = { farFraction: 0.1, limit: 0.5, outside: false };
const outside = { farFraction: 0.83, limit: 0.5, outside: true };

describe("verdictFor", () => {
  it("is anomalous when score ≥ threshold", () => {
    expect(verdictFor(0.5, 0.5, trained, "carpet", inside)).toEqual({ kind: "anomalous", text: "Anomalous (score 0.50 ≥ 0.50)" });
    expect(verdictFor(0.49, 0.5, trained, "carpet", inside)).toEqual({ kind: "normal", text: "Normal (score 0.49 < 0.50)" });
  });

  it("never gives an untrained model a verdict, whatever the domain check says", () => {
    const none = { kind: "none", text: "No verdict: untrained / random weights" };
    expect(verdictFor(0.99, 0.1, { untrained: true }, "carpet")).toEqual(none);
    expect(verdictFor(0.99, 0.1, { untrained: true }, "carpet", outside)).toEqual(none);
    expect(verdictFor(0.01, 0.5, { untrained: true, trainingFree: true }, "carpet", inside)).toEqual(none);
  });

  it("never gives a training-free bundle a verdict", () => {
    const v = verdictFor(0.99, 0.1, { untrained: false, trainingFree: true }, "carpet", outside);
    expect(v.kind).toBe("none");
    expect(v.text).toMatch(/^No verdict: training-free/);
  });

  it("outside the domain: exactly 'Outside what this model knows for <category>', no Normal/Anomalous", () => {
    for (const score of [0.01, 0.99]) {
      const v = verdictFor(score, 0.5, trained, "carpet", outside);
      expect(v.kind).toBe("outside");
      expect(v.text).toBe("Outside what this model knows for carpet");
      expect(v.text).not.toMatch(/normal|anomalous/i);
      expect(v.note).toMatch(/83% of its patches .*limit 50%/);
    }
    expect(outsideText("a woven basket")).toBe("Outside what this model knows for a woven basket");
  });

  it("inside the domain: the usual verdict, no note", () => {
    expect(verdictFor(0.9, 0.5, trained, "carpet", inside).note).toBeUndefined();
    // the page follows `outside` as the model reports it; it does not recompute it from farFraction
    expect(verdictFor(0.1, 0.5, trained, "carpet", { ...inside, farFraction: 0.5 }).kind).toBe("normal");
  });

  it("no domain check on a trained bundle: the verdict as usual, with a note that it cannot tell its domain", () => {
    for (const domain of [null, undefined]) {
      const v = verdictFor(0.9, 0.5, trained, "carpet", domain);
      expect(v.kind).toBe("anomalous");
      expect(v.text).toBe("Anomalous (score 0.90 ≥ 0.50)");
      expect(v.note).toBe("This model has no reference for carpet, so it cannot tell whether the image is in its domain.");
      expect(verdictFor(0.1, 0.5, trained, "wood", domain).kind).toBe("normal");
    }
  });
});

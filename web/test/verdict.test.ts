import { describe, expect, it } from "vitest";
import { verdictFor } from "../src/verdict";

describe("verdictFor", () => {
  it("is anomalous when score ≥ threshold", () => {
    expect(verdictFor(0.5, 0.5, false)).toEqual({ kind: "anomalous", text: "Anomalous (score 0.50 ≥ 0.50)" });
    expect(verdictFor(0.49, 0.5, false).kind).toBe("normal");
  });
  it("never gives an untrained model a verdict", () => {
    expect(verdictFor(0.99, 0.1, true)).toEqual({ kind: "none", text: "No verdict: untrained / random weights" });
  });
});

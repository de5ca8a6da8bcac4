// The verdict shown for a score: an untrained bundle never gets one.

export type Verdict = { kind: "anomalous" | "normal" | "none"; text: string };

export function verdictFor(score: number, threshold: number, untrained: boolean): Verdict {
  if (untrained) return { kind: "none", text: "No verdict: untrained / random weights" };
  if (score >= threshold) return { kind: "anomalous", text: `Anomalous (score ${score.toFixed(2)} ≥ ${threshold.toFixed(2)})` };
  return { kind: "normal", text: `Normal (score ${score.toFixed(2)} < ${threshold.toFixed(2)})` };
}

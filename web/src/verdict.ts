// The verdict shown for a detection:
//   - an untrained (random) bundle and a training-free one (CLIP without adapters) never get one;
//   - an image the domain check puts outside what the model knows for the category gets
//     "Outside what this model knows for <category>" instead of Normal / Anomalous;
//   - otherwise the score against the threshold, with a note when the category has no reference
//     memory (nothing to compare with, so the model cannot tell whether the image is in its domain).

import type { DomainCheck } from "./protocol";

export type VerdictKind = "anomalous" | "normal" | "none" | "outside";
export type Verdict = { kind: VerdictKind; text: string; note?: string };

export interface VerdictModel {
  untrained: boolean;
  trainingFree?: boolean;
}

export function outsideText(category: string): string {
  return `Outside what this model knows for ${category}`;
}

export function verdictFor(
  score: number,
  threshold: number,
  model: VerdictModel,
  category = "",
  domain: DomainCheck | null | undefined = undefined,
): Verdict {
  if (model.untrained) return { kind: "none", text: "No verdict: untrained / random weights" };
  if (model.trainingFree) return { kind: "none", text: "No verdict: training-free CLIP (no adapters trained for anomalies)" };
  if (domain?.outside) {
    return {
      kind: "outside",
      text: outsideText(category),
      note:
        `${Math.round(domain.farFraction * 100)}% of its patches are far from everything the model has seen as normal ` +
        `(limit ${Math.round(domain.limit * 100)}%): its score says nothing about defects here. ` +
        "Show it what normal looks like (below the category) to use it on this kind of image.",
    };
  }
  const note = domain
    ? undefined
    : `This model has no reference for ${category || "this category"}, so it cannot tell whether the image is in its domain.`;
  if (score >= threshold) return { kind: "anomalous", text: `Anomalous (score ${score.toFixed(2)} ≥ ${threshold.toFixed(2)})`, ...(note ? { note } : {}) };
  return { kind: "normal", text: `Normal (score ${score.toFixed(2)} < ${threshold.toFixed(2)})`, ...(note ? { note } : {}) };
}

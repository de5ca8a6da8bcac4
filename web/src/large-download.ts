// The question before a large download: how much, and how long a detection will take on this
// device (the worker measures it with the runtime that will run the model: acd_core::cost).

import { formatBytes } from "./progress";
import type { ConfirmDownloadMsg } from "./protocol";

/** Bundles above this many bytes not yet in the browser's cache are downloaded only when the user agrees. */
export const CONFIRM_ABOVE_BYTES = 100_000_000;

/** `?confirm-mb=N`: ask above N MB instead of 100 (0 asks for any download). */
export function confirmAboveFromQuery(search: string): { bytes: number; warning: string | null } {
  const v = new URLSearchParams(search).get("confirm-mb");
  if (v === null || v === "") return { bytes: CONFIRM_ABOVE_BYTES, warning: null };
  const mb = Number(v);
  if (!Number.isFinite(mb) || mb < 0) {
    return { bytes: CONFIRM_ABOVE_BYTES, warning: `?confirm-mb=${v} is not a size in MB; asking above ${CONFIRM_ABOVE_BYTES / 1e6} MB` };
  }
  return { bytes: mb * 1e6, warning: null };
}

function formatSeconds(ms: number): string {
  if (ms < 1000) return `${Math.max(1, Math.round(ms))} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
  return `${(ms / 60_000).toFixed(1)} min`;
}

/** The sentence the page shows above its Download / Not now buttons. */
export function largeDownloadText(m: ConfirmDownloadMsg): string {
  const cached = m.totalBytes - m.bytes;
  let text = `This model needs a download of ${formatBytes(m.bytes)}`;
  text += cached > 0 ? ` (${formatBytes(m.totalBytes)} in all; the rest is in this browser's cache).` : ".";
  const path = m.backend === "webgpu" ? "WebGPU" : `the CPU (${m.threads ?? 1} thread${(m.threads ?? 1) === 1 ? "" : "s"})`;
  if (m.estimate) {
    const { gflop, gflopPerSecond, ms } = m.estimate;
    text +=
      ` One detection is ${gflop.toFixed(gflop < 10 ? 2 : 0)} GFLOP; ${path} did ${gflopPerSecond.toFixed(1)} GFLOP/s here just now,` +
      ` so each detection will take at least ${formatSeconds(ms)}.`;
  } else {
    text += ` How long a detection takes on ${path} could not be measured.`;
  }
  return text;
}

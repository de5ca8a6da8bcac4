// The teaching panel ("How it works": per-group maps and gate weights) and the model card.

import { cpuPathLabel } from "./backend";
import { mapCanvas } from "./overlay";
import type { Calibration, CategoryInfo, Detection, ModelInfo, ReadyMsg, ReferenceInfo } from "./protocol";
import { formatBytes } from "./progress";

function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

/** "shallow", "middle" or "deep" for group i of n. */
export function depthWord(i: number, n: number): string {
  if (n <= 1) return "all";
  const f = i / (n - 1);
  return f < 0.34 ? "shallow" : f < 0.67 ? "middle" : "deep";
}

export function renderGroupMaps(box: HTMLElement, d: Detection): void {
  box.replaceChildren();
  const n = d.groupMaps.length;
  d.groupMaps.forEach((m, i) => {
    let max = 0;
    for (const v of m) if (v > max) max = v;
    const fig = el("figure", { class: "group" });
    fig.append(mapCanvas(m, d.grid, `Group ${i + 1} map`));
    fig.append(
      el(
        "figcaption",
        {},
        `Group ${i + 1} (${depthWord(i, n)} layers): abnormal probability from this group's adapted patches alone, ` +
          `${d.grid}×${d.grid} patches (max ${max.toFixed(2)}).`,
      ),
    );
    box.append(fig);
  });
}

/** Gate weights as a table of bar pairs: row = group i, column = text level j. */
export function renderGates(box: HTMLElement, d: Detection): void {
  box.replaceChildren();
  const n = d.gateWeights.length;
  const table = el("table", { class: "gate-table" });
  const head = el("tr");
  head.append(el("th", { scope: "col" }, "group \\ text level"));
  for (let j = 0; j < n; j++) head.append(el("th", { scope: "col" }, `level ${j + 1}`));
  head.append(el("th", { scope: "col" }, "what it says"));
  table.append(el("thead"));
  table.tHead!.append(head);
  const body = el("tbody");
  d.gateWeights.forEach((w, i) => {
    const tr = el("tr");
    tr.append(el("th", { scope: "row" }, `group ${i + 1}`));
    let bestN = 0;
    let bestA = 0;
    for (let j = 0; j < n; j++) {
      const wn = w[2 * j];
      const wa = w[2 * j + 1];
      if (wn > w[2 * bestN]) bestN = j;
      if (wa > w[2 * bestA + 1]) bestA = j;
      const td = el("td", { class: "gate-cell", title: `group ${i + 1}, level ${j + 1}: normal ${wn.toFixed(3)}, abnormal ${wa.toFixed(3)}` });
      for (const [cls, v] of [
        ["normal", wn],
        ["abnormal", wa],
      ] as const) {
        const row = el("div", { class: "bar-row" });
        const bar = el("span", { class: `bar ${cls}` });
        bar.style.width = `${(Math.max(0, Math.min(1, v)) * 70).toFixed(1)}px`;
        row.append(bar, el("span", { class: "bar-num" }, v.toFixed(2)));
        td.append(row);
      }
      tr.append(td);
    }
    tr.append(
      el(
        "td",
        { class: "gate-caption" },
        `Group ${i + 1} leans most on text level ${bestN + 1} for “normal” and level ${bestA + 1} for “abnormal”.`,
      ),
    );
    body.append(tr);
  });
  table.append(body);
  box.append(table);
}

export interface ModelCardElements {
  /** the opening sentence: what the model knows and does not know */
  knows: HTMLElement;
  /** <details> "How it was trained" around `desc` */
  trained: HTMLDetailsElement;
  desc: HTMLElement;
  facts: HTMLElement;
}

/** The model card's opening sentence: what the model knows, and what it does not. */
export function knowsSentence(info: Pick<ModelInfo, "untrained" | "trainedOn" | "trainingFree">): string {
  if (info.untrained) return "Knows: nothing. These are untrained / random weights for testing the page, not a detector.";
  if (info.trainingFree) {
    return "Knows: only what CLIP learned from web images and their captions; it was not trained on defects. " +
      "Anything else is outside what it knows; it says so when it can tell.";
  }
  const what = (info.trainedOn ?? "").trim().replace(/[.\s]+$/, "");
  if (!what) return "Knows: the bundle does not say what it was trained on. It says when an image is outside what it knows only where it has a reference memory.";
  return `Knows: ${what}. Anything else is outside what it knows; it says so when it can tell.`;
}

/** "carpet (8 normal images), wood (8 normal images)" or null when the bundle has none. */
export function bundleReferencesText(refs: Record<string, ReferenceInfo> | undefined): string | null {
  const entries = Object.entries(refs ?? {});
  if (!entries.length) return null;
  const text = entries.map(([k, r]) => `${k} (${r.images} normal image${r.images === 1 ? "" : "s"})`).join(", ");
  return entries.every(([, r]) => r.domainOnly) ? `${text}; for the out-of-domain check only (the maps stay zero-shot)` : text;
}

/**
 * The bundle's calibrated thresholds, one per category: "carpet: image 0.42, outline 0.61,
 * calibrated on 200 normal images at a 1% false-positive rate"; null when the bundle has none.
 */
export function calibrationsText(cals: Record<string, Calibration> | undefined): string[] | null {
  const entries = Object.entries(cals ?? {});
  if (!entries.length) return null;
  return entries.map(([k, c]) => {
    const with_ = c.withReference ? " (with the bundle's reference memory; it holds only while that memory is in use)" : "";
    return `${k}: image ${c.imageThreshold.toFixed(2)}, outline ${c.pixelThreshold.toFixed(2)}, ${c.source}${with_}`;
  });
}

/** The card's line for the categories without a calibration. */
export function uncalibratedText(categories: CategoryInfo[], cals: Record<string, Calibration> | undefined): string | null {
  const missing = categories.filter((c) => !(cals && Object.hasOwn(cals, c.key))).map((c) => c.key);
  if (!missing.length) return null;
  if (missing.length === categories.length) return "none in the bundle: the page judges by the default 0.5, not calibrated";
  const which = missing.length <= 4 ? missing.join(", ") : `the other ${missing.length} categories`;
  return `${which}: default 0.5, not calibrated`;
}

export function renderModelCard(card: ModelCardElements, info: ModelInfo, ready: ReadyMsg, categories: CategoryInfo[]): void {
  card.knows.textContent = knowsSentence(info);
  card.knows.classList.remove("muted");
  card.desc.textContent = info.description || info.name;
  const summary = card.trained.querySelector("summary");
  if (summary) summary.textContent = info.untrained ? "About these weights" : "How it was trained";
  card.trained.hidden = false;
  const facts = card.facts;
  facts.replaceChildren();
  const add = (k: string, v: string, cls?: string) => {
    facts.append(el("dt", {}, k));
    facts.append(el("dd", cls ? { class: cls } : {}, v));
  };
  add("Name", info.name);
  if (info.untrained) add("Weights", "untrained / random weights — not a detector", "bad");
  else add("Trained on", info.trainedOn ?? "not stated");
  if (info.trainingFree) add("Adapters", "none: CLIP zero-shot (training-free prompt ensembles over patch tokens)");
  add("Backbone", info.backbone);
  add("Input size", `${info.imageSize} × ${info.imageSize} px (${info.grid} × ${info.grid} patches)`);
  add("Groups (N)", String(info.nGroups));
  add("Precision", info.precision);
  add(
    "Categories",
    categories.length ? `${categories.length}: ${categories.map((c) => c.realName).join(", ")}` : "none",
  );
  add(
    "Reference memories",
    bundleReferencesText(info.references) ??
      "none in the bundle: without one it cannot tell what is outside its domain (you can give it normal images above)",
  );
  {
    const lines = [...(calibrationsText(info.calibrations) ?? []), uncalibratedText(categories, info.calibrations)].filter((l): l is string => !!l);
    facts.append(el("dt", {}, "Thresholds"));
    const dd = el("dd", { id: "card-calibrations" });
    lines.forEach((l, i) => {
      if (i) dd.append(el("br"));
      dd.append(document.createTextNode(l));
    });
    facts.append(dd);
  }
  add("Free-text categories", info.hasTextTower ? "yes (the bundle carries the text tower)" : "no (only the listed categories)");
  add("Running on", ready.backend === "webgpu" ? `WebGPU${ready.adapter ? ` — ${ready.adapter}` : ""}` : cpuPathLabel(ready.cpu));
  const c = ready.cache;
  add(
    "Weights",
    c.filesFetched === 0
      ? `${c.filesFromCache} file(s) from the browser cache, nothing downloaded`
      : `${formatBytes(c.bytesFetched)} downloaded (${c.filesFetched} file(s)), ${c.filesFromCache} from the cache`,
  );
}

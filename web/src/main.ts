// The page: wires the inputs, the model worker (client.ts ↔ worker.ts), the overlay view and the panels.

import "./style.css";
import { backendFromQuery, cpuPathLabel, gpuF16FromQuery, modelFromQuery } from "./backend";
import { ModelClient, type WorkerLike } from "./client";
import { turboGradientCss } from "./colormap";
import { isolateWithServiceWorker } from "./isolation";
import { confirmAboveFromQuery, largeDownloadText } from "./large-download";
import { areaFraction } from "./outline";
import { OverlayView } from "./overlay";
import { renderGates, renderGroupMaps, renderModelCard } from "./panels";
import { formatBytes, formatProgress } from "./progress";
import {
  DOWNLOAD_DECLINED,
  errorMessage,
  MAX_REFERENCE_IMAGES,
  type CategoryInfo,
  type ConfirmDownloadMsg,
  type Detection,
  type DomainCheck,
  type ModelInfo,
  type ProgressMsg,
  type ReadyMsg,
  type ReferenceInfo,
  type ResultMsg,
} from "./protocol";
import { checkRecord, makeRecord, ReferenceStore, type BundleIdentity, type StoredReference } from "./reference-store";
import samples from "./samples.json";
import { applicableThreshold, thresholdLine, type AppliedThreshold } from "./threshold";
import { verdictFor } from "./verdict";

const CUSTOM = "__custom__";
/** Largest file the page accepts (the model's decoder has its own pixel limits). */
const MAX_FILE_BYTES = 64 * 1024 * 1024;

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const e = document.getElementById(id);
  if (!e) throw new Error(`page element #${id} is missing`);
  return e as T;
};

const ui = {
  statusText: $("status-text"),
  statusDetail: $("status-detail"),
  progress: $<HTMLProgressElement>("progress"),
  untrained: $("untrained-banner"),
  error: $("error"),
  errorTitle: $("error-title"),
  errorText: $("error-text"),
  errorClose: $("error-close"),
  notice: $("notice"),
  dropzone: $("dropzone"),
  file: $<HTMLInputElement>("file"),
  samples: $("samples"),
  category: $<HTMLSelectElement>("category"),
  customWrap: $("custom-wrap"),
  customText: $<HTMLInputElement>("custom-text"),
  canvas: $<HTMLCanvasElement>("view"),
  placeholder: $("placeholder"),
  busy: $("busy"),
  legendBar: $("legend-bar"),
  opacity: $<HTMLInputElement>("opacity"),
  opacityOut: $<HTMLOutputElement>("opacity-out"),
  threshold: $<HTMLInputElement>("threshold"),
  thresholdOut: $<HTMLOutputElement>("threshold-out"),
  thresholdLine: $("threshold-line"),
  verdictBox: $("verdict-box"),
  score: $("score"),
  verdict: $("verdict"),
  factImage: $("fact-image"),
  factArea: $("fact-area"),
  factTime: $("fact-time"),
  factBackend: $("fact-backend"),
  howN: $("how-n"),
  howEmpty: $("how-empty"),
  groupMaps: $("group-maps"),
  gates: $("gates"),
  cardKnows: $("card-knows"),
  cardTrained: $<HTMLDetailsElement>("card-trained"),
  cardDesc: $("card-desc"),
  cardFacts: $("card-facts"),
  verdictNote: $("verdict-note"),
  factReference: $("fact-reference"),
  factDomain: $("fact-domain"),
  refDropzone: $("ref-dropzone"),
  refFiles: $<HTMLInputElement>("ref-files"),
  refStatus: $("ref-status"),
  refForget: $<HTMLButtonElement>("ref-forget"),
  offlineNote: $("offline-note"),
  downloadConfirm: $("download-confirm"),
  downloadText: $("download-confirm-text"),
  downloadYes: $<HTMLButtonElement>("download-yes"),
  downloadNo: $<HTMLButtonElement>("download-no"),
};

interface CurrentImage {
  name: string;
  bytes: Uint8Array;
  bitmap: ImageBitmap | null;
}

/** State the e2e tests read (window.__acd); harmless in production. */
interface DebugHook {
  state: string;
  ready: ReadyMsg | null;
  last: { id: number; name: string; score: number; width: number; height: number; map: Float32Array; detection: Detection; totalMs: number } | null;
  detections: number;
  errors: string[];
  notices: string[];
  lastError: string | null;
  restarts: string[];
  progress: ProgressMsg | null;
  progressEvents: number;
  /** a detection was sent and its answer has not arrived */
  pending: boolean;
  /** a reference memory is being built, restored or forgotten */
  refBusy: boolean;
  /** reference operations finished (built, restored, forgotten, failed) */
  refEvents: number;
  /** page memories restored from this browser's storage at the last model load */
  refRestored: number;
  /** the threshold in use for the verdict (image) and the outline (pixel), null before any */
  threshold: AppliedThreshold | null;
  /** the last question before a large download */
  confirmDownload: ConfirmDownloadMsg | null;
}

const debug: DebugHook = {
  state: "loading",
  ready: null,
  last: null,
  detections: 0,
  errors: [],
  notices: [],
  lastError: null,
  restarts: [],
  progress: null,
  progressEvents: 0,
  pending: false,
  refBusy: false,
  refEvents: 0,
  refRestored: 0,
  threshold: null,
  confirmDownload: null,
};
(window as unknown as { __acd: DebugHook }).__acd = debug;

const view = new OverlayView(ui.canvas);
let info: ModelInfo | null = null;
let readyMsg: ReadyMsg | null = null;
let categories: CategoryInfo[] = [];
let current: CurrentImage | null = null;
let pendingId = 0;
let sentAt = 0;
let waitingForModel = false;
let last: ResultMsg | null = null;
/** the category the pending / last detection was asked for */
let pendingCategory = "";
let lastCategory = "";
let loadFailed = false;
/** the slider's value by hand since the category or the model last changed; null: the model's threshold applies */
let manualThreshold: number | null = null;

// Reference memories ("show it what normal looks like").
/** the loaded bundle's identity, the key of its stored memories */
let bundle: BundleIdentity | null = null;
/** the active memory of each category (the bundle's own or the page's), as the model reported it */
const activeRefs = new Map<string, ReferenceInfo>();
/** the page's memories: image count, date, and whether this browser keeps them */
const pageRefs = new Map<string, { images: number; created: number; kept: boolean }>();
/** stored memories are being restored after a (re)load: detections wait for them */
let restoring = false;
let refBusy = false;
let readyGeneration = 0;
let storePromise: Promise<ReferenceStore | null> | null = null;
let storeProblem: string | null = null;
function setState(s: "loading" | "ready" | "busy" | "failed" | "declined"): void {
  document.body.dataset.state = s;
  debug.state = s;
}

// ---- messages --------------------------------------------------------------------------------

function showError(title: string, text: string): void {
  ui.errorTitle.textContent = title;
  ui.errorText.textContent = text;
  ui.error.hidden = false;
  debug.errors.push(`${title} ${text}`);
  debug.lastError = `${title} ${text}`;
}

function hideError(): void {
  ui.error.hidden = true;
}

function showNotice(text: string): void {
  ui.notice.textContent = text;
  ui.notice.hidden = false;
  debug.notices.push(text);
}

ui.errorClose.addEventListener("click", hideError);

// ---- the model -------------------------------------------------------------------------------

const query = window.location.search;
const { backend, warning: backendWarning } = backendFromQuery(query);
const { model, warning: modelWarning } = modelFromQuery(query);
const { gpuF16, warning: precisionWarning } = gpuF16FromQuery(query);
if (backendWarning) showNotice(backendWarning);
if (precisionWarning) showNotice(precisionWarning);
if (modelWarning) showNotice(modelWarning);
const modelUrl = new URL(`models/${model}/`, document.baseURI).href;
const pkgUrl = new URL("pkg/acd_wasm.js", document.baseURI).href;
const pkgThreadsUrl = new URL("pkg-threads/acd_wasm.js", document.baseURI).href;
const { bytes: confirmAboveBytes, warning: confirmWarning } = confirmAboveFromQuery(query);
if (confirmWarning) showNotice(confirmWarning);

const client = new ModelClient(
  { modelUrl, pkgUrl, pkgThreadsUrl, backend, gpuF16, confirmAboveBytes },
  {
    progress: onProgress,
    notice: (m) => showNotice(m.message),
    ready: onReady,
    confirmDownload: (m) => {
      debug.confirmDownload = m;
      ui.progress.hidden = true;
      ui.statusText.textContent = "Download the model?";
      ui.statusDetail.textContent = "";
      ui.downloadText.textContent = largeDownloadText(m);
      ui.downloadYes.textContent = "Download";
      ui.downloadNo.hidden = false;
      ui.downloadConfirm.hidden = false;
      ui.downloadYes.focus();
    },
    loadError: (message) => {
      if (message === DOWNLOAD_DECLINED) {
        setState("declined");
        ui.statusText.textContent = "The model was not downloaded.";
        ui.downloadYes.textContent = "Download it now";
        ui.downloadNo.hidden = true;
        ui.downloadConfirm.hidden = false;
        return;
      }
      loadFailed = true;
      setState("failed");
      ui.progress.hidden = true;
      ui.statusText.textContent = "The model could not be loaded.";
      ui.statusDetail.textContent = "";
      showError("The model could not be loaded:", message);
      ui.busy.hidden = true;
      restoring = false;
      updateReferenceStatus();
    },
    result: onResult,
    detectError: onDetectError,
    restart: (reason) => {
      debug.restarts.push(reason);
      showNotice(reason);
      setState("loading");
      ui.progress.hidden = false;
    },
  },
  () => new Worker(new URL("./worker.ts", import.meta.url), { type: "module", name: "acd-model" }) as unknown as WorkerLike,
);

function onProgress(m: ProgressMsg): void {
  debug.progress = m;
  debug.progressEvents++;
  ui.progress.hidden = false;
  switch (m.phase) {
    case "runtime":
    case "manifest":
      ui.statusText.textContent = `Loading the model “${model}”…`;
      ui.progress.removeAttribute("value");
      break;
    case "download": {
      const allCached = m.fromCache === m.loaded && m.filesDone === m.filesTotal;
      ui.statusText.textContent = allCached ? "Reading the model from the browser cache…" : `Downloading the model (first visit only): ${formatProgress(m.loaded, m.total)}`;
      ui.statusDetail.textContent = m.file ? `${m.file} · file ${Math.min(m.filesDone + 1, m.filesTotal)} of ${m.filesTotal}` : "";
      ui.progress.max = Math.max(1, m.total);
      ui.progress.value = m.loaded;
      break;
    }
    case "init":
      ui.statusText.textContent = "Preparing the model…";
      ui.statusDetail.textContent = "";
      ui.progress.removeAttribute("value");
      break;
  }
}

function backendText(r: ReadyMsg): string {
  if (r.backend === "webgpu") {
    const about = [r.adapter, r.info.arithmetic === "f16" ? "f16" : null].filter((s) => s !== null);
    return `WebGPU${about.length ? ` (${about.join(", ")})` : ""}`;
  }
  return `${cpuPathLabel(r.cpu)}${r.fallbackReason ? ` — not WebGPU because ${r.fallbackReason}` : ""}`;
}

function onReady(m: ReadyMsg): void {
  loadFailed = false;
  readyMsg = m;
  info = m.info;
  categories = m.categories;
  debug.ready = m;
  ui.progress.hidden = true;
  const c = m.cache;
  const how = c.filesFetched === 0 ? "from the browser cache" : `${formatBytes(c.bytesFetched)} downloaded`;
  ui.statusText.textContent = info.untrained ? "Model ready (untrained test weights)." : "Model ready. Choose an image.";
  ui.statusDetail.textContent = `${info.name} · ${how} · ready in ${(m.timings.totalMs / 1000).toFixed(1)} s · ${backendText(m)}`;
  ui.untrained.hidden = !info.untrained;
  document.body.classList.toggle("is-untrained", info.untrained);
  ui.howN.textContent = String(info.nGroups);
  fillCategories();
  // a (re)loaded model: its own thresholds apply again
  resetThreshold();
  renderModelCard({ knows: ui.cardKnows, trained: ui.cardTrained, desc: ui.cardDesc, facts: ui.cardFacts }, info, m, categories);
  // The worker starts with the bundle's own memories; the page's are restored from storage before
  // the first detection, on every (re)load.
  bundle = m.bundle;
  activeRefs.clear();
  pageRefs.clear();
  for (const [k, r] of Object.entries(info.references ?? {})) activeRefs.set(k, r);
  const gen = ++readyGeneration;
  restoring = true;
  updateReferenceStatus();
  void restoreReferences(gen).finally(() => {
    if (gen !== readyGeneration || loadFailed || !client.isReady) return;
    restoring = false;
    updateReferenceStatus();
    setState("ready");
    if (waitingForModel || (current && !last)) {
      waitingForModel = false;
      runDetect();
    }
  });
}

function fillCategories(): void {
  const previous = ui.category.value;
  ui.category.replaceChildren();
  for (const c of categories) {
    const o = document.createElement("option");
    o.value = c.key;
    o.textContent = c.realName === c.key ? c.key : `${c.realName} (${c.key})`;
    ui.category.append(o);
  }
  if (info?.hasTextTower) {
    const o = document.createElement("option");
    o.value = CUSTOM;
    o.textContent = "Something else — type it…";
    ui.category.append(o);
  }
  if ([...ui.category.options].some((o) => o.value === previous)) ui.category.value = previous;
  ui.category.disabled = ui.category.options.length === 0;
  ui.customWrap.hidden = ui.category.value !== CUSTOM;
}

function chosenCategory(): string | null {
  if (ui.category.value === CUSTOM) {
    const t = ui.customText.value.trim();
    return t.length ? t : null;
  }
  return ui.category.value || null;
}

// ---- images ----------------------------------------------------------------------------------

async function useImage(name: string, blob: Blob): Promise<void> {
  // Answers for the previous image are stale from now on.
  pendingId = 0;
  debug.pending = false;
  hideError();
  if (blob.size === 0) {
    showError(`Could not use ${name}:`, "the file is empty.");
    return;
  }
  if (blob.size > MAX_FILE_BYTES) {
    showError(`Could not use ${name}:`, `the file is ${formatBytes(blob.size)}; the page takes images up to ${formatBytes(MAX_FILE_BYTES)}.`);
    return;
  }
  const bytes = new Uint8Array(await blob.arrayBuffer());
  // The browser decodes for display; the model decodes the same bytes itself. Both apply the
  // EXIF orientation (the model since it decodes upright), so the map and the picture line up
  // pixel for pixel and a phone photo is shown upright.
  const bitmap = await createImageBitmap(blob, { imageOrientation: "from-image" }).catch(() => null);
  current?.bitmap?.close();
  current = { name, bytes, bitmap };
  last = null;
  clearExplanation();
  ui.placeholder.textContent = PLACEHOLDER;
  ui.placeholder.classList.remove("failed");
  ui.placeholder.hidden = !!bitmap;
  if (bitmap) view.showImage(bitmap, bitmap.width, bitmap.height);
  else view.clear();
  ui.verdictBox.hidden = true;
  runDetect();
}

const PLACEHOLDER = ui.placeholder.textContent ?? "";

/** The per-group panel belongs to the last result: empty it when the image changes. */
function clearExplanation(): void {
  ui.groupMaps.replaceChildren();
  ui.gates.replaceChildren();
  ui.howEmpty.hidden = false;
}

function runDetect(): void {
  if (!current) return;
  if (!client.isReady || restoring) {
    waitingForModel = true;
    ui.busy.hidden = loadFailed;
    if (loadFailed) showError(`Could not analyse ${current.name}:`, "the model is not loaded (see the message above).");
    return;
  }
  const category = chosenCategory();
  if (!category) {
    showError("Say what the object is:", "type a few words in the box under the category list.");
    ui.customText.focus();
    return;
  }
  hideError();
  ui.busy.hidden = false;
  setState("busy");
  sentAt = performance.now();
  pendingCategory = category;
  pendingId = client.detect(current.bytes.slice().buffer, category);
  debug.pending = true;
}

function onDetectError(id: number, message: string): void {
  if (id !== pendingId) return;
  debug.pending = false;
  ui.busy.hidden = true;
  if (client.isReady) setState("ready");
  document.body.dataset.result = "error";
  const name = current?.name ?? "the image";
  const friendly =
    /decod|image/i.test(message) && !/supported/i.test(message)
      ? `${message} (is the file complete, and is it a PNG, JPEG, BMP, GIF, WebP or TIFF image?)`
      : message;
  showError(`Could not analyse ${name}:`, friendly);
  ui.error.scrollIntoView({ block: "nearest" });
  if (!current?.bitmap) {
    view.clear();
    ui.placeholder.textContent = `Could not analyse ${name}: ${friendly}`;
    ui.placeholder.classList.add("failed");
    ui.placeholder.hidden = false;
  }
  ui.verdictBox.hidden = true;
}

function onResult(m: ResultMsg): void {
  if (m.id !== pendingId || !current) return;
  debug.pending = false;
  last = m;
  lastCategory = pendingCategory;
  const d = m.detection;
  const totalMs = performance.now() - sentAt;
  ui.busy.hidden = true;
  setState("ready");
  document.body.dataset.result = "ok";
  if (current.bitmap && (current.bitmap.width !== d.width || current.bitmap.height !== d.height)) {
    // The browser and the model disagree on the size (rare): draw the picture stretched to the map.
    view.showImage(current.bitmap, d.width, d.height);
  }
  ui.placeholder.hidden = true;
  view.showMap({ map: d.map, width: d.width, height: d.height });
  ui.verdictBox.hidden = false;
  const t = d.timings;
  ui.factImage.textContent = `${current.name} · ${d.width} × ${d.height} px`;
  ui.factTime.textContent =
    `${Math.round(totalMs)} ms (decode ${Math.round(t.decodeMs)} · text ${Math.round(t.textMs)} · ` +
    `model ${Math.round(t.forwardMs)} · post-processing ${Math.round(t.postprocessMs)} ms)`;
  ui.factBackend.textContent = readyMsg ? backendText(readyMsg) : "?";
  ui.factReference.textContent = referenceFact(d.reference ?? null);
  ui.factDomain.textContent = domainFact(d.domain ?? null, lastCategory);
  updateVerdict();
  ui.howEmpty.hidden = true;
  renderGroupMaps(ui.groupMaps, d);
  renderGates(ui.gates, d);
  debug.detections++;
  debug.last = { id: m.id, name: current.name, score: d.score, width: d.width, height: d.height, map: d.map, detection: d, totalMs };
}

/** The threshold in use: the slider's by hand for this category, else the last detection's (the model's). */
function currentThreshold(): AppliedThreshold | null {
  if (last) return applicableThreshold(last.detection.threshold, manualThreshold);
  if (manualThreshold !== null) return applicableThreshold(null, manualThreshold);
  return null;
}

/** Back to the model's threshold (a new category or model): forgets the slider's value by hand. */
function resetThreshold(): void {
  manualThreshold = null;
  updateVerdict();
}

/** Applies the threshold in use (slider, outline, the line saying where it came from) and the verdict. */
function updateVerdict(): void {
  const th = currentThreshold();
  debug.threshold = th;
  // the slider shows the model's image threshold (rounded to its step; the exact value is used)
  if (th && !th.byHand) ui.threshold.value = String(th.image);
  const image = th ? th.image : Number(ui.threshold.value);
  const pixel = th ? th.pixel : Number(ui.threshold.value);
  ui.thresholdOut.textContent = image.toFixed(2);
  view.setThreshold(pixel);
  ui.thresholdLine.hidden = !th;
  ui.thresholdLine.textContent = th ? thresholdLine(th) : "";
  ui.thresholdLine.dataset.source = !th ? "none" : th.byHand ? "hand" : th.calibrated ? "calibrated" : "default";
  if (!last) return;
  const d = last.detection;
  ui.score.textContent = d.score.toFixed(3);
  ui.factArea.textContent = `${(areaFraction(d.map, pixel) * 100).toFixed(1)}% of the pixels`;
  const v = verdictFor(d.score, image, { untrained: info?.untrained ?? true, trainingFree: info?.trainingFree ?? false }, lastCategory, d.domain);
  ui.verdict.className = `verdict ${v.kind === "anomalous" ? "bad" : v.kind === "normal" ? "good" : v.kind === "outside" ? "outside" : "none"}`;
  ui.verdict.textContent = v.text;
  ui.verdictBox.dataset.verdict = v.kind;
  ui.verdictNote.textContent = v.note ?? "";
  ui.verdictNote.hidden = !v.note;
}

const plural = (n: number, one: string) => `${n} ${one}${n === 1 ? "" : "s"}`;

/** The result panel's "Reference memory" line. */
function referenceFact(r: ReferenceInfo | null): string {
  if (!r) return "none: zero-shot (text prompts only)";
  const where = r.source === "page" ? "this browser" : "model bundle";
  return `${plural(r.images, "normal image")} (${where}${r.domainOnly ? "; for the domain check only, the map is zero-shot" : ""})`;
}

/** The result panel's "In its domain?" line. */
function domainFact(d: DomainCheck | null, category: string): string {
  if (!d) return `cannot tell: no reference memory for ${category}`;
  const pct = (x: number) => `${Math.round(x * 100)}%`;
  return `${d.outside ? "no" : "yes"}: ${pct(d.farFraction)} of the patches are far from every normal reference patch (limit ${pct(d.limit)})`;
}

// ---- inputs ----------------------------------------------------------------------------------

ui.file.addEventListener("change", () => {
  const f = ui.file.files?.[0];
  if (f) void useImage(f.name, f);
  ui.file.value = "";
});

ui.dropzone.addEventListener("keydown", (e) => {
  if (e.key === "Enter" || e.key === " ") {
    e.preventDefault();
    ui.file.click();
  }
});

let dragDepth = 0;
document.addEventListener("dragenter", (e) => {
  if (!e.dataTransfer?.types.includes("Files")) return;
  dragDepth++;
  document.body.classList.add("dragging");
});
document.addEventListener("dragleave", () => {
  dragDepth = Math.max(0, dragDepth - 1);
  if (dragDepth === 0) document.body.classList.remove("dragging");
});
document.addEventListener("dragover", (e) => {
  e.preventDefault();
  if (e.dataTransfer) e.dataTransfer.dropEffect = "copy";
});
document.addEventListener("drop", (e) => {
  e.preventDefault();
  dragDepth = 0;
  document.body.classList.remove("dragging");
  if (e.target instanceof Node && ui.refDropzone.contains(e.target)) {
    const files = [...(e.dataTransfer?.files ?? [])];
    if (files.length) void addReferences(files);
    else showError("Nothing to use:", "drop image files (dragging a picture from another web page gives a link, not the file).");
    return;
  }
  const f = e.dataTransfer?.files?.[0];
  if (f) void useImage(f.name, f);
  else showError("Nothing to use:", "drop an image file (dragging a picture from another web page gives a link, not the file).");
});

document.addEventListener("paste", (e) => {
  const target = e.target as HTMLElement | null;
  if (target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA")) return;
  const items = [...(e.clipboardData?.items ?? [])];
  const item = items.find((i) => i.kind === "file");
  const f = item?.getAsFile();
  if (f) {
    e.preventDefault();
    void useImage(f.name && f.name !== "image.png" ? f.name : "pasted image", f);
  }
});

ui.category.addEventListener("change", () => {
  ui.customWrap.hidden = ui.category.value !== CUSTOM;
  resetThreshold();
  updateReferenceStatus();
  if (ui.category.value === CUSTOM) {
    ui.customText.focus();
    if (!ui.customText.value.trim()) return;
  }
  runDetect();
});
ui.customText.addEventListener("change", () => {
  resetThreshold();
  runDetect();
});
ui.customText.addEventListener("input", () => updateReferenceStatus());

ui.opacity.addEventListener("input", () => {
  const a = Number(ui.opacity.value);
  ui.opacityOut.textContent = `${Math.round(a * 100)}%`;
  view.setOpacity(a);
});
ui.threshold.addEventListener("input", () => {
  // by hand: this value judges the verdict and draws the outline for this category
  manualThreshold = Number(ui.threshold.value);
  updateVerdict();
});
window.addEventListener("resize", () => view.fit());

for (const s of samples) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = "sample";
  b.dataset.sample = s.file;
  const img = document.createElement("img");
  img.src = `samples/${s.file}`;
  img.alt = "";
  img.width = 64;
  img.height = 64;
  const cap = document.createElement("span");
  cap.textContent = `${s.title}, ${s.note}`;
  b.append(img, cap);
  b.addEventListener("click", async () => {
    try {
      const res = await fetch(`samples/${s.file}`);
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      if (categories.some((c) => c.key === s.category)) {
        // another category: its own threshold applies, not a value set by hand for the previous one
        if (ui.category.value !== s.category) manualThreshold = null;
        ui.category.value = s.category;
        ui.customWrap.hidden = true;
      }
      await useImage(s.file, await res.blob());
    } catch (e) {
      showError(`Could not load the sample ${s.file}:`, (e as Error).message);
    }
  });
  ui.samples.append(b);
}

// ---- reference memories ("show it what normal looks like") -----------------------------------

/** This browser's store of the page's memories (IndexedDB), opened once; null when unavailable. */
function referenceStore(): Promise<ReferenceStore | null> {
  storePromise ??= ReferenceStore.open().catch((e: unknown) => {
    storeProblem = errorMessage(e);
    return null;
  });
  return storePromise;
}

function setRefBusy(busy: boolean, text?: string): void {
  refBusy = busy;
  debug.refBusy = busy;
  ui.refFiles.disabled = busy;
  ui.refDropzone.classList.toggle("disabled", busy);
  ui.refDropzone.setAttribute("aria-disabled", String(busy));
  if (text) ui.refStatus.textContent = text;
  if (!busy) updateReferenceStatus();
  else ui.refForget.disabled = true;
}

function dateText(ms: number): string {
  try {
    return new Date(ms).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
  } catch {
    return new Date(ms).toISOString();
  }
}

/** The status line of the reference section, for the chosen category. */
function updateReferenceStatus(): void {
  if (refBusy) return;
  const category = chosenCategory();
  const page = category ? pageRefs.get(category) : undefined;
  ui.refForget.disabled = !page || !info;
  ui.refStatus.dataset.source = "none";
  if (!info) {
    ui.refStatus.textContent = loadFailed ? "The model is not loaded." : "Loading the model…";
    return;
  }
  if (restoring) {
    ui.refStatus.textContent = "Restoring the reference memories kept in this browser…";
    return;
  }
  if (!category) {
    ui.refStatus.textContent = "Say what the object is first (the memory belongs to a category).";
    return;
  }
  const active = activeRefs.get(category);
  if (page) {
    ui.refStatus.dataset.source = "page";
    ui.refStatus.textContent = page.kept
      ? `Reference memory for ${category}: ${plural(page.images, "normal image")}, kept in this browser (since ${dateText(page.created)}).`
      : `Reference memory for ${category}: ${plural(page.images, "normal image")}, used until this page is closed (this browser could not keep it${storeProblem ? `: ${storeProblem}` : ""}).`;
  } else if (active) {
    ui.refStatus.dataset.source = active.source;
    ui.refStatus.textContent =
      active.source === "bundle"
        ? `Reference memory for ${category}: bundle memory, ${plural(active.images, "normal image")}` +
          `${active.domainOnly ? " (for the domain check only)" : ""}. None of yours is kept for ${category}.`
        : `Reference memory for ${category}: ${plural(active.images, "normal image")} (this page).`;
  } else {
    ui.refStatus.textContent = `No reference memory for ${category}: the model compares the image with its text prompts only (zero-shot).`;
  }
}

/** Restores every memory this browser keeps for the loaded bundle; drops (and says so) one the model refuses. */
async function restoreReferences(gen: number): Promise<void> {
  debug.refRestored = 0;
  const b = bundle;
  if (!b) return;
  const store = await referenceStore();
  if (!store || gen !== readyGeneration) return;
  let records: unknown[];
  try {
    await store.pruneStale(b).catch(() => 0);
    records = await store.list(b);
  } catch (e) {
    showNotice(`The reference memories kept in this browser could not be read: ${errorMessage(e)}`);
    return;
  }
  for (const r of records) {
    if (gen !== readyGeneration) return;
    const problem = checkRecord(r);
    const category = typeof (r as StoredReference)?.category === "string" ? (r as StoredReference).category : null;
    if (problem) {
      if (category !== null) await store.delete(b, category).catch(() => undefined);
      showNotice(`A reference memory kept in this browser${category !== null ? ` for ${category}` : ""} was unreadable (${problem}) and was dropped.`);
      continue;
    }
    const rec = r as StoredReference;
    try {
      const active = await client.setReference(rec.category, rec.memory);
      if (gen !== readyGeneration) return;
      if (active) activeRefs.set(rec.category, active);
      pageRefs.set(rec.category, { images: active?.images ?? rec.images, created: rec.created, kept: true });
      debug.refRestored++;
    } catch (e) {
      if (gen !== readyGeneration) return;
      // The model refused these bytes (another model, another format): they can never be used.
      await store.delete(b, rec.category).catch(() => undefined);
      showNotice(
        `Your reference memory for ${rec.category} (${plural(rec.images, "image")}) does not fit this model and was dropped: ` +
          `${errorMessage(e)}. Give it the normal images again.`,
      );
    } finally {
      debug.refEvents++;
    }
  }
}

/** Builds a memory for the chosen category from 1–16 normal images, keeps it in this browser. */
async function addReferences(files: File[]): Promise<void> {
  if (files.length === 0) return;
  hideError();
  if (files.length > MAX_REFERENCE_IMAGES) {
    showError("Too many images:", `a reference memory is built from 1 to ${MAX_REFERENCE_IMAGES} normal images; you gave ${files.length}. Choose at most ${MAX_REFERENCE_IMAGES}.`);
    return;
  }
  const category = chosenCategory();
  if (!category) {
    showError("Say what the object is:", "the reference memory belongs to a category; type a few words in the box under the category list.");
    return;
  }
  if (!info || !bundle || !client.isReady || restoring || refBusy) {
    showError("Not yet:", refBusy ? "a reference memory is being built; wait for it." : "the model is not ready yet.");
    return;
  }
  for (const f of files) {
    if (f.size === 0 || f.size > MAX_FILE_BYTES) {
      showError(`Could not use ${f.name}:`, f.size === 0 ? "the file is empty." : `the file is ${formatBytes(f.size)}; the page takes images up to ${formatBytes(MAX_FILE_BYTES)}.`);
      return;
    }
  }
  const b = bundle;
  setRefBusy(true, `Building the reference memory for ${category} from ${plural(files.length, "normal image")}…`);
  let built = false;
  try {
    const images = await Promise.all(files.map((f) => f.arrayBuffer()));
    const { info: active, memory } = await client.buildReference(images, category);
    const count = active?.images ?? files.length;
    activeRefs.set(category, active ?? { images: count, patches: [], source: "page" });
    const rec = makeRecord(b, category, memory, count);
    let kept = false;
    const store = await referenceStore();
    if (store) {
      try {
        await store.put(rec);
        kept = true;
      } catch (e) {
        storeProblem = errorMessage(e);
      }
    }
    if (!kept) showNotice(`The reference memory for ${category} is used until this page is closed: this browser could not keep it (${storeProblem ?? "no storage"}).`);
    pageRefs.set(category, { images: count, created: rec.created, kept });
    built = true;
  } catch (e) {
    const names = files.map((f) => f.name).join(", ");
    showError(`Could not build the reference memory for ${category}:`, `${errorMessage(e)} (images, in order: ${names})`);
  } finally {
    debug.refEvents++;
    setRefBusy(false);
  }
  // The memory applies from the next detection: run the current image again with it.
  if (built && current && last) runDetect();
}

/** Forgets the page's memory of the chosen category, here and in this browser's storage. */
async function forgetReference(): Promise<void> {
  const category = chosenCategory();
  if (!category || refBusy) return;
  hideError();
  setRefBusy(true, `Forgetting the reference memory for ${category}…`);
  try {
    if (client.isReady) {
      const active = await client.clearReference(category);
      if (active) activeRefs.set(category, active);
      else activeRefs.delete(category);
    }
    pageRefs.delete(category);
    const store = await referenceStore();
    if (store && bundle) await store.delete(bundle, category);
  } catch (e) {
    showError(`Could not forget the reference memory for ${category}:`, errorMessage(e));
  } finally {
    debug.refEvents++;
    setRefBusy(false);
  }
  if (current && last) runDetect();
}

ui.refFiles.addEventListener("change", () => {
  const files = [...(ui.refFiles.files ?? [])];
  ui.refFiles.value = "";
  void addReferences(files);
});
ui.refDropzone.addEventListener("keydown", (e) => {
  if (e.key === "Enter" || e.key === " ") {
    e.preventDefault();
    if (!refBusy) ui.refFiles.click();
  }
});
ui.refForget.addEventListener("click", () => void forgetReference());
ui.downloadYes.addEventListener("click", () => {
  ui.downloadConfirm.hidden = true;
  ui.progress.hidden = false;
  ui.statusText.textContent = "Loading the model…";
  if (debug.state === "declined") {
    setState("loading");
    client.downloadAnyway();
  } else {
    client.decideDownload(true);
  }
});
ui.downloadNo.addEventListener("click", () => {
  ui.downloadConfirm.hidden = true;
  client.decideDownload(false);
});

// ---- start -----------------------------------------------------------------------------------

ui.legendBar.style.background = turboGradientCss();
view.setOpacity(Number(ui.opacity.value));
view.setThreshold(Number(ui.threshold.value));
setState("loading");
updateReferenceStatus();

// Offline: a small service worker keeps the page, the runtime and the samples; the worker keeps
// the weights in the Cache API. It also adds the COOP/COEP headers a static host leaves out, so the
// CPU path gets its threads (isolation.ts). ?sw=0 turns it off (for debugging).
const serviceWorkerAllowed = "serviceWorker" in navigator && new URLSearchParams(query).get("sw") !== "0";
function registerServiceWorker(): Promise<unknown> {
  return navigator.serviceWorker.register(new URL("sw.js", document.baseURI).href, { scope: "./" }).then(
    (registration) => {
      ui.offlineNote.textContent = "Once loaded, it also works offline.";
      return registration;
    },
    (err: unknown) => {
      ui.offlineNote.textContent = "";
      throw err;
    },
  );
}

let storage: Storage | null = null;
try {
  storage = window.sessionStorage;
} catch {
  storage = null; // storage blocked (e.g. a sandboxed frame)
}
const reloading = await isolateWithServiceWorker(
  {
    crossOriginIsolated: window.crossOriginIsolated,
    isSecureContext: window.isSecureContext,
    serviceWorkerAllowed,
    controlled: serviceWorkerAllowed && navigator.serviceWorker.controller !== null,
    storage,
  },
  registerServiceWorker,
  {
    onControllerChange: (listener) => navigator.serviceWorker.addEventListener("controllerchange", listener),
    reload: () => window.location.reload(),
  },
);
if (!reloading) {
  client.start();
  // (registering again when isolateWithServiceWorker already did is harmless: the same worker)
  if (serviceWorkerAllowed) registerServiceWorker().catch(() => undefined);
}

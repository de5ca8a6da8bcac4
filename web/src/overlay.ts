// Draws the image with its anomaly map on one canvas at the image's own size: the image, the
// turbo-coloured map at the chosen opacity, and the outline of map ≥ threshold.

import { mapToRgba } from "./colormap";
import { dilate, outlineMask, outlineRadius } from "./outline";

type Layer = HTMLCanvasElement | OffscreenCanvas;

function makeLayer(w: number, h: number): Layer {
  if (typeof OffscreenCanvas !== "undefined") return new OffscreenCanvas(w, h);
  const c = document.createElement("canvas");
  c.width = w;
  c.height = h;
  return c;
}

function ctx2d(layer: Layer): CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D {
  const c = layer.getContext("2d") as CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D | null;
  if (!c) throw new Error("this browser cannot draw on a 2D canvas");
  return c;
}

export interface MapData {
  map: Float32Array;
  width: number;
  height: number;
}

export class OverlayView {
  private image: ImageBitmap | null = null;
  private data: MapData | null = null;
  private mapLayer: Layer | null = null;
  private outlineLayer: Layer | null = null;
  private outlineKey = "";
  private opacity = 0.55;
  private threshold = 0.5;
  private frame = 0;

  constructor(private readonly canvas: HTMLCanvasElement) {}

  /** Shows an image alone (before its result arrives); clears the map. */
  showImage(image: ImageBitmap | null, width: number, height: number): void {
    this.image = image;
    this.data = null;
    this.mapLayer = null;
    this.outlineLayer = null;
    this.outlineKey = "";
    this.resize(width, height);
    this.schedule();
  }

  /** Adds the map of the image being shown (same size; else the canvas follows the map). */
  showMap(data: MapData): void {
    if (data.map.length !== data.width * data.height) throw new Error("the map does not match its size");
    this.data = data;
    this.resize(data.width, data.height);
    const layer = makeLayer(data.width, data.height);
    const c = ctx2d(layer);
    const img = c.createImageData(data.width, data.height);
    mapToRgba(data.map, img.data);
    c.putImageData(img, 0, 0);
    this.mapLayer = layer;
    this.outlineKey = "";
    this.schedule();
  }

  setOpacity(a: number): void {
    this.opacity = Math.min(1, Math.max(0, a));
    this.schedule();
  }

  setThreshold(t: number): void {
    this.threshold = t;
    this.schedule();
  }

  clear(): void {
    this.showImage(null, 1, 1);
  }

  private resize(w: number, h: number): void {
    if (this.canvas.width !== w) this.canvas.width = w;
    if (this.canvas.height !== h) this.canvas.height = h;
    this.fit();
  }

  /** Display size: fill the box's width (small images up to 3× larger), at most 70% of the window's height. */
  fit(): void {
    const { width: w, height: h } = this.canvas;
    const box = this.canvas.parentElement?.clientWidth ?? w;
    if (w <= 1 || h <= 1 || !(box > 0)) {
      this.canvas.style.width = "";
      this.canvas.style.height = "";
      return;
    }
    const maxH = Math.max(200, window.innerHeight * 0.7);
    const scale = Math.min(box / w, maxH / h, 3);
    this.canvas.style.width = `${Math.floor(w * scale)}px`;
    this.canvas.style.height = `${Math.floor(h * scale)}px`;
    this.outlineKey = ""; // the outline's thickness depends on the display size
    this.schedule();
  }

  private schedule(): void {
    if (this.frame) return;
    const run = () => {
      this.frame = 0;
      this.render();
    };
    this.frame = typeof requestAnimationFrame === "function" ? requestAnimationFrame(run) : (setTimeout(run, 0) as unknown as number);
  }

  /** Draws now (also called by tests through the debug hook). */
  render(): void {
    const c = this.canvas.getContext("2d");
    if (!c) return;
    const { width, height } = this.canvas;
    c.save();
    c.clearRect(0, 0, width, height);
    if (this.image) {
      c.drawImage(this.image, 0, 0, width, height);
    } else if (this.data) {
      c.fillStyle = "#777";
      c.fillRect(0, 0, width, height);
    }
    if (this.mapLayer && this.opacity > 0) {
      c.globalAlpha = this.opacity;
      c.drawImage(this.mapLayer, 0, 0, width, height);
      c.globalAlpha = 1;
    }
    const outline = this.outline();
    if (outline) c.drawImage(outline, 0, 0, width, height);
    c.restore();
  }

  private outline(): Layer | null {
    const d = this.data;
    if (!d) return null;
    const shown = this.canvas.getBoundingClientRect().width || d.width;
    const r = outlineRadius(d.width, shown);
    const key = `${this.threshold}|${r}`;
    if (key === this.outlineKey) return this.outlineLayer;
    const edge = outlineMask(d.map, d.width, d.height, this.threshold);
    const inner = dilate(edge, d.width, d.height, r);
    const outer = dilate(inner, d.width, d.height, Math.max(1, Math.ceil(r / 2)));
    const layer = makeLayer(d.width, d.height);
    const c = ctx2d(layer);
    const img = c.createImageData(d.width, d.height);
    const px = img.data;
    for (let i = 0; i < inner.length; i++) {
      if (!outer[i]) continue;
      const o = i * 4;
      const white = inner[i] === 1;
      px[o] = px[o + 1] = px[o + 2] = white ? 255 : 0;
      px[o + 3] = white ? 255 : 170;
    }
    c.putImageData(img, 0, 0);
    this.outlineLayer = layer;
    this.outlineKey = key;
    return layer;
  }
}

/** A small canvas of a square map (grid × grid), scaled up by CSS without smoothing. */
export function mapCanvas(map: Float32Array, side: number, label: string): HTMLCanvasElement {
  const c = document.createElement("canvas");
  c.width = side;
  c.height = side;
  c.setAttribute("role", "img");
  c.setAttribute("aria-label", label);
  const ctx = c.getContext("2d");
  if (ctx) {
    const img = ctx.createImageData(side, side);
    mapToRgba(map, img.data);
    ctx.putImageData(img, 0, 0);
  }
  return c;
}

// Test images for the few-shot test, drawn here (deterministic, no files): glazed ceramic tiles in
// a green / white checker with grout lines, a texture the demo bundle was never trained on (it knows
// carpet, woven fabric and wood) and that looks like none of them: flat glazed squares 16 px wide
// with straight grout, vs fine threads, tufts and grain. Each seed varies the glaze of every tile,
// the grout shade and the pixel noise a little; the grid itself stays in place, as in photos of
// one tiled wall taken the same way. A defect is a dark blotch (a burn / oil stain) at a known place.
import { encodePng, rng } from "../scripts/make-samples.mjs";

export const TILE_IMAGE_SIZE = 128;
const PERIOD = 16;
const GROUT = 2;

export interface Blotch {
  cx: number;
  cy: number;
  /** radius in pixels; the blotch is fully dark up to 0.8 r and fades out to r */
  r: number;
}

/** The blotch of the defect image: r = 16 px covers π·16² ≈ 804 px ≈ 4.9 % of 128 × 128. */
export const DEFECT: Blotch = { cx: 84, cy: 44, r: 16 };

/** The two glazes of the checker. */
export const GLAZES = [
  [30, 140, 90], // emerald green
  [235, 235, 225], // off-white
];

const smooth = (e0: number, e1: number, x: number) => {
  const t = Math.max(0, Math.min(1, (x - e0) / (e1 - e0)));
  return t * t * (3 - 2 * t);
};

/** RGB bytes of the tile texture (seeded variations), optionally with a dark blotch. */
export function tileRgb(seed: number, blotch?: Blotch, glazes: number[][] = GLAZES): Uint8Array {
  const S = TILE_IMAGE_SIZE;
  const r = rng(seed);
  const n = S / PERIOD;
  // per tile: a glaze shade factor and a slight tint
  const tiles = Array.from({ length: n * n }, () => ({ shade: 0.94 + 0.12 * r(), tint: [r() - 0.5, r() - 0.5, r() - 0.5].map((v) => v * 10) }));
  const grout = 180 + 20 * r();
  const out = new Uint8Array(S * S * 3);
  for (let y = 0; y < S; y++) {
    for (let x = 0; x < S; x++) {
      const tx = Math.floor(x / PERIOD);
      const ty = Math.floor(y / PERIOD);
      const u = x % PERIOD;
      const v = y % PERIOD;
      const o = (y * S + x) * 3;
      let rgb: number[];
      if (u < GROUT || v < GROUT) {
        rgb = [grout, grout - 3, grout - 8].map((c) => c + (r() - 0.5) * 12);
      } else {
        const t = tiles[ty * n + tx];
        const g = glazes[(tx + ty) % 2];
        // bevel: a little darker next to the grout, a soft highlight towards the top left
        const edge = Math.min(u - GROUT, v - GROUT, PERIOD - 1 - u, PERIOD - 1 - v);
        const bevel = 0.85 + 0.15 * smooth(0, 2.5, edge);
        const light = 1 + 0.05 * (1 - (u + v) / (2 * PERIOD));
        rgb = g.map((c, k) => (c * t.shade + t.tint[k]) * bevel * light + (r() - 0.5) * 8);
      }
      if (blotch) {
        const d = Math.hypot(x - blotch.cx, y - blotch.cy) / blotch.r;
        const a = 0.92 * (1 - smooth(0.8, 1.0, d));
        if (a > 0) {
          const dark = [34, 26, 20];
          rgb = rgb.map((c, k) => c * (1 - a) + (dark[k] + (r() - 0.5) * 10) * a);
        }
      }
      for (let k = 0; k < 3; k++) out[o + k] = Math.max(0, Math.min(255, Math.round(rgb[k])));
    }
  }
  return out;
}

export function tilePng(seed: number, blotch?: Blotch, glazes: number[][] = GLAZES): Buffer {
  return encodePng(tileRgb(seed, blotch, glazes), TILE_IMAGE_SIZE, TILE_IMAGE_SIZE) as Buffer;
}

/**
 * Mean of a width × height map inside the blotch (distance ≤ r) and outside it (distance > r +
 * margin: the band just around the edge is left out because the map is upsampled from the
 * patch grid and smoothed, so it spills a few pixels), and where its maximum lies.
 */
export function mapStats(map: ArrayLike<number>, width: number, height: number, b: Blotch, margin: number) {
  let sumIn = 0;
  let nIn = 0;
  let sumOut = 0;
  let nOut = 0;
  let max = -Infinity;
  let arg = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      const v = map[i];
      if (v > max) {
        max = v;
        arg = i;
      }
      const d = Math.hypot(x - b.cx, y - b.cy);
      if (d <= b.r) {
        sumIn += v;
        nIn++;
      } else if (d > b.r + margin) {
        sumOut += v;
        nOut++;
      }
    }
  }
  const ax = arg % width;
  const ay = Math.floor(arg / width);
  return {
    meanIn: sumIn / nIn,
    meanOut: sumOut / nOut,
    max,
    argmax: [ax, ay] as [number, number],
    /** distance of the maximum from the blotch's edge (0 inside it) */
    argmaxOutside: Math.max(0, Math.hypot(ax - b.cx, ay - b.cy) - b.r),
  };
}

import { describe, expect, it } from "vitest";
import { areaFraction, dilate, maskToRgba, outlineMask, outlineRadius, thresholdMask } from "../src/outline";

/** A w×h map that is `hi` inside the rectangle [x0,x1)×[y0,y1) and `lo` elsewhere. */
function rectMap(w: number, h: number, x0: number, y0: number, x1: number, y1: number, hi = 0.9, lo = 0.1) {
  const m = new Float32Array(w * h).fill(lo);
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) m[y * w + x] = hi;
  return m;
}

const render = (mask: Uint8Array, w: number) =>
  Array.from({ length: mask.length / w }, (_, y) => [...mask.subarray(y * w, (y + 1) * w)].map((v) => (v ? "#" : ".")).join(""));

describe("outlineMask", () => {
  it("marks the boundary ring of a rectangle", () => {
    const m = rectMap(7, 6, 1, 1, 6, 5);
    expect(render(outlineMask(m, 7, 6, 0.5), 7)).toEqual([".......", ".#####.", ".#...#.", ".#...#.", ".#####.", "......."]);
  });
  it("closes regions at the image border", () => {
    const m = new Float32Array(4 * 3).fill(1);
    expect(render(outlineMask(m, 4, 3, 0.5), 4)).toEqual(["####", "#..#", "####"]);
  });
  it("is empty when the threshold is above the maximum", () => {
    const m = rectMap(5, 5, 1, 1, 4, 4);
    expect(outlineMask(m, 5, 5, 0.95).every((v) => v === 0)).toBe(true);
  });
  it("includes values equal to the threshold (map ≥ t)", () => {
    const m = new Float32Array([0, 0.5, 0]);
    expect([...outlineMask(m, 3, 1, 0.5)]).toEqual([0, 1, 0]);
  });
  it("treats NaN as outside", () => {
    expect([...thresholdMask([Number.NaN, 1], 0.5)]).toEqual([0, 1]);
  });
  it("checks the size", () => {
    expect(() => outlineMask(new Float32Array(5), 2, 2, 0.5)).toThrow(/expected 2×2/);
  });
});

describe("dilate", () => {
  it("grows a pixel into a square, clipped at the edges", () => {
    const m = new Uint8Array(25);
    m[0] = 1;
    m[12] = 1;
    expect(render(dilate(m, 5, 5, 1), 5)).toEqual(["##...", "####.", ".###.", ".###.", "....."]);
  });
  it("r = 0 copies", () => {
    const m = new Uint8Array([1, 0, 1]);
    const d = dilate(m, 3, 1, 0);
    expect([...d]).toEqual([1, 0, 1]);
    expect(d).not.toBe(m);
  });
  it("matches a brute-force dilation on random masks", () => {
    let seed = 3;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    for (let trial = 0; trial < 20; trial++) {
      const w = 3 + Math.floor(rnd() * 9);
      const h = 3 + Math.floor(rnd() * 9);
      const r = Math.floor(rnd() * 3);
      const m = Uint8Array.from({ length: w * h }, () => (rnd() < 0.15 ? 1 : 0));
      const want = new Uint8Array(w * h);
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++)
          for (let dy = -r; dy <= r; dy++)
            for (let dx = -r; dx <= r; dx++) {
              const yy = y + dy;
              const xx = x + dx;
              if (yy >= 0 && yy < h && xx >= 0 && xx < w && m[yy * w + xx]) want[y * w + x] = 1;
            }
      expect([...dilate(m, w, h, r)]).toEqual([...want]);
    }
  });
});

describe("helpers", () => {
  it("areaFraction counts map ≥ t", () => {
    expect(areaFraction([0.1, 0.5, 0.9, 1], 0.5)).toBe(0.75);
    expect(areaFraction([], 0.5)).toBe(0);
  });
  it("outlineRadius keeps the line about a screen pixel wide", () => {
    expect(outlineRadius(256, 512)).toBe(0);
    expect(outlineRadius(500, 500)).toBe(0);
    expect(outlineRadius(1000, 500)).toBe(1);
    expect(outlineRadius(2000, 500)).toBe(3);
    expect(outlineRadius(1000, 0)).toBe(0);
  });
  it("maskToRgba paints only the mask", () => {
    const px = maskToRgba(new Uint8Array([0, 1]), [1, 2, 3, 4]);
    expect([...px]).toEqual([0, 0, 0, 0, 1, 2, 3, 4]);
  });
});

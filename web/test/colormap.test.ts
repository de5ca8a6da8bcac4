import { describe, expect, it } from "vitest";
import { lutIndex, mapToRgba, turbo, turboGradientCss, turboLut } from "../src/colormap";

const argmax = (c: number[]) => c.indexOf(Math.max(...c));

describe("turbo", () => {
  it("matches the polynomial the CLI uses at the ends", () => {
    // crates/cli/src/output.rs: turbo(0) = round(255 * constant terms), turbo(1) = round(255 * sum of coefficients)
    expect(turbo(0)).toEqual([35, 23, 27]);
    expect(turbo(1)).toEqual([144, 13, 0]); // the fit ends a little brighter than the table (122, 4, 3)
  });
  it("runs blue → green → red like the CLI's test", () => {
    expect(argmax(turbo(0.15))).toBe(2);
    expect(argmax(turbo(0.5))).toBe(1);
    expect(argmax(turbo(0.9))).toBe(0);
  });
  it("clamps out-of-range values and treats NaN as 0", () => {
    expect(turbo(-3)).toEqual(turbo(0));
    expect(turbo(7)).toEqual(turbo(1));
    expect(turbo(Number.NaN)).toEqual(turbo(0));
  });
  it("gives 0–255 integers everywhere", () => {
    for (let i = 0; i <= 1000; i++) {
      for (const v of turbo(i / 1000)) {
        expect(Number.isInteger(v)).toBe(true);
        expect(v).toBeGreaterThanOrEqual(0);
        expect(v).toBeLessThanOrEqual(255);
      }
    }
  });
});

describe("lut and mapToRgba", () => {
  it("has 256 entries equal to turbo(i/255)", () => {
    const lut = turboLut();
    expect(lut.length).toBe(768);
    expect([...lut.subarray(3 * 128, 3 * 129)]).toEqual(turbo(128 / 255));
  });
  it("indexes with clamping", () => {
    expect(lutIndex(-1)).toBe(0);
    expect(lutIndex(Number.NaN)).toBe(0);
    expect(lutIndex(0.5)).toBe(128);
    expect(lutIndex(1)).toBe(255);
    expect(lutIndex(2)).toBe(255);
  });
  it("writes opaque pixels in order", () => {
    const px = mapToRgba(new Float32Array([0, 1, 0.5]));
    expect(px.length).toBe(12);
    expect([...px.subarray(0, 4)]).toEqual([...turbo(0), 255]);
    expect([...px.subarray(4, 8)]).toEqual([...turbo(1), 255]);
    expect([...px.subarray(8, 12)]).toEqual([...turbo(128 / 255), 255]);
  });
  it("refuses an output of the wrong size", () => {
    expect(() => mapToRgba([0, 1], new Uint8ClampedArray(4))).toThrow(/expected 8/);
  });
  it("makes a CSS gradient", () => {
    expect(turboGradientCss(3)).toMatch(/^linear-gradient\(to right, rgb\(35 23 27\) 0\.0%, .* 100\.0%\)$/);
  });
});

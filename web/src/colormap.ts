// Turbo colormap (Google's polynomial fit, the same one `acd detect` uses in crates/cli/src/output.rs)
// and the conversion of an anomaly map to RGBA pixels.

const R = [0.13572138, 4.6153926, -42.66032258, 132.13108234, -152.94239396, 59.28637943];
const G = [0.09140261, 2.19418839, 4.84296658, -14.18503333, 4.27729857, 2.82956604];
const B = [0.1066733, 12.64194608, -60.58204836, 110.36276771, -89.90310912, 27.34824973];

const poly = (c: number[], x: number): number => c[0] + x * (c[1] + x * (c[2] + x * (c[3] + x * (c[4] + x * c[5]))));
const to8 = (v: number): number => Math.round(Math.min(1, Math.max(0, v)) * 255);

/** Turbo colour of x in [0, 1] (clamped; NaN counts as 0), as 0–255 RGB. */
export function turbo(x: number): [number, number, number] {
  const t = Number.isNaN(x) ? 0 : Math.min(1, Math.max(0, x));
  return [to8(poly(R, t)), to8(poly(G, t)), to8(poly(B, t))];
}

/** 256-entry RGB lookup table (768 bytes): entry i is turbo(i / 255). */
export function turboLut(): Uint8Array {
  const lut = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) lut.set(turbo(i / 255), i * 3);
  return lut;
}

let sharedLut: Uint8Array | null = null;
const lut = (): Uint8Array => (sharedLut ??= turboLut());

/** Index into the LUT for a map value (clamped to [0, 1], NaN → 0). */
export function lutIndex(v: number): number {
  if (!(v > 0)) return 0;
  if (v >= 1) return 255;
  return Math.round(v * 255);
}

/**
 * RGBA pixels (opaque) of a map through turbo; `out` may be an ImageData's data of the same size.
 * Length of `map` must be width × height.
 */
export function mapToRgba(map: ArrayLike<number>, out?: Uint8ClampedArray): Uint8ClampedArray {
  const n = map.length;
  const px = out ?? new Uint8ClampedArray(n * 4);
  if (px.length !== n * 4) throw new Error(`mapToRgba: output has ${px.length} bytes, expected ${n * 4}`);
  const table = lut();
  for (let i = 0; i < n; i++) {
    const k = lutIndex(map[i]) * 3;
    const o = i * 4;
    px[o] = table[k];
    px[o + 1] = table[k + 1];
    px[o + 2] = table[k + 2];
    px[o + 3] = 255;
  }
  return px;
}

/** CSS linear-gradient of turbo for a legend bar. */
export function turboGradientCss(stops = 9): string {
  const parts: string[] = [];
  for (let i = 0; i < stops; i++) {
    const t = i / (stops - 1);
    const [r, g, b] = turbo(t);
    parts.push(`rgb(${r} ${g} ${b}) ${(t * 100).toFixed(1)}%`);
  }
  return `linear-gradient(to right, ${parts.join(", ")})`;
}

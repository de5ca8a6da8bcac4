// The outline of the region where map ≥ threshold: a boundary-pixel pass (a pixel is on the
// outline when it is inside and one of its 4 neighbours is outside or off the image), then an
// optional dilation so the line stays visible when a large image is shown small.

/** 1 where map ≥ t, else 0. NaN is outside. */
export function thresholdMask(map: ArrayLike<number>, t: number): Uint8Array {
  const m = new Uint8Array(map.length);
  for (let i = 0; i < map.length; i++) m[i] = map[i] >= t ? 1 : 0;
  return m;
}

/** Boundary pixels of the region map ≥ t (4-neighbourhood; the image border closes regions). */
export function outlineMask(map: ArrayLike<number>, width: number, height: number, t: number): Uint8Array {
  if (map.length !== width * height) throw new Error(`outlineMask: map has ${map.length} values, expected ${width}×${height}`);
  const inside = thresholdMask(map, t);
  const out = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      const i = row + x;
      if (!inside[i]) continue;
      if (
        x === 0 ||
        y === 0 ||
        x === width - 1 ||
        y === height - 1 ||
        !inside[i - 1] ||
        !inside[i + 1] ||
        !inside[i - width] ||
        !inside[i + width]
      ) {
        out[i] = 1;
      }
    }
  }
  return out;
}

/** Square dilation by `r` pixels (separable: rows then columns). r ≤ 0 returns a copy. */
export function dilate(mask: Uint8Array, width: number, height: number, r: number): Uint8Array {
  r = Math.floor(r);
  if (r <= 0) return mask.slice();
  const tmp = new Uint8Array(mask.length);
  // rows: running count of set pixels in the window [x-r, x+r]
  for (let y = 0; y < height; y++) {
    const row = y * width;
    let count = 0;
    for (let x = 0; x < Math.min(r, width); x++) count += mask[row + x];
    for (let x = 0; x < width; x++) {
      if (x + r < width) count += mask[row + x + r];
      if (x - r - 1 >= 0) count -= mask[row + x - r - 1];
      tmp[row + x] = count > 0 ? 1 : 0;
    }
  }
  const out = new Uint8Array(mask.length);
  for (let x = 0; x < width; x++) {
    let count = 0;
    for (let y = 0; y < Math.min(r, height); y++) count += tmp[y * width + x];
    for (let y = 0; y < height; y++) {
      if (y + r < height) count += tmp[(y + r) * width + x];
      if (y - r - 1 >= 0) count -= tmp[(y - r - 1) * width + x];
      out[y * width + x] = count > 0 ? 1 : 0;
    }
  }
  return out;
}

/** Fraction of pixels with map ≥ t. */
export function areaFraction(map: ArrayLike<number>, t: number): number {
  if (map.length === 0) return 0;
  let n = 0;
  for (let i = 0; i < map.length; i++) if (map[i] >= t) n++;
  return n / map.length;
}

/** RGBA pixels: `color` where the mask is set, transparent elsewhere. */
export function maskToRgba(mask: Uint8Array, color: [number, number, number, number] = [255, 255, 255, 255]): Uint8ClampedArray {
  const px = new Uint8ClampedArray(mask.length * 4);
  for (let i = 0; i < mask.length; i++) {
    if (!mask[i]) continue;
    const o = i * 4;
    px[o] = color[0];
    px[o + 1] = color[1];
    px[o + 2] = color[2];
    px[o + 3] = color[3];
  }
  return px;
}

/** Dilation radius that keeps the outline about one screen pixel wide or more (0 = the 1-px boundary). */
export function outlineRadius(imageWidth: number, displayWidth: number): number {
  if (!(displayWidth > 0) || !(imageWidth > 0)) return 0;
  return Math.max(0, Math.ceil(imageWidth / displayWidth - 1e-9) - 1);
}

#!/usr/bin/env node
// Draws the page's sample images procedurally (no downloads, deterministic) and writes them as
// PNG files: a woven fabric without a defect, with a scratch, with a stain, and a metal mesh with
// a broken wire. The list (names, titles) is web/src/samples.json, which the page also reads.
//
//   node web/scripts/make-samples.mjs [OUT_DIR=www/samples]

import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { deflateSync } from "node:zlib";

const SIZE = 256;

// ---- PNG encoder (8-bit RGB, filter 0) ---------------------------------------------------------

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(bytes) {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, "ascii");
  Buffer.from(data).copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** PNG bytes of an RGB image (rgb: Uint8Array of width*height*3). */
export function encodePng(rgb, width, height) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type RGB
  const raw = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    raw[y * (width * 3 + 1)] = 0;
    Buffer.from(rgb.buffer, rgb.byteOffset + y * width * 3, width * 3).copy(raw, y * (width * 3 + 1) + 1);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", deflateSync(raw, { level: 9 })),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

// ---- drawing ---------------------------------------------------------------------------------

/** mulberry32: a small seeded generator of numbers in [0, 1) (also used by the e2e textures). */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const clamp8 = (v) => Math.max(0, Math.min(255, Math.round(v)));
const smooth = (e0, e1, x) => {
  const t = Math.max(0, Math.min(1, (x - e0) / (e1 - e0)));
  return t * t * (3 - 2 * t);
};

/** A plain-weave fabric: threads over/under in a checker of 8-px cells, with fibre noise. */
function fabric(seed) {
  const r = rng(seed);
  const img = new Float32Array(SIZE * SIZE * 3);
  const cell = 8;
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) {
      const cx = Math.floor(x / cell);
      const cy = Math.floor(y / cell);
      const warpOnTop = (cx + cy) % 2 === 0;
      // position across the visible thread (0..1): vertical threads vary with x, horizontal with y
      const u = warpOnTop ? (x % cell) / cell : (y % cell) / cell;
      const along = warpOnTop ? (y % cell) / cell : (x % cell) / cell;
      const round = Math.sin(Math.PI * (u * 0.9 + 0.05)); // thread is brighter in its middle
      const dip = 0.85 + 0.15 * Math.sin(Math.PI * along);
      const fibre = 0.92 + 0.16 * r();
      const shade = (0.55 + 0.45 * round) * dip * fibre;
      const base = warpOnTop ? [205, 184, 150] : [190, 168, 134];
      const o = (y * SIZE + x) * 3;
      for (let c = 0; c < 3; c++) img[o + c] = base[c] * shade;
    }
  }
  return img;
}

function scratch(img) {
  // A thin, slightly curved bright-then-dark line, like a pulled thread or a cut.
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) {
      const t = (x - 48) / 150;
      if (t < 0 || t > 1) continue;
      const cy = 70 + 110 * t + 14 * Math.sin(t * Math.PI);
      const d = Math.abs(y - cy);
      const a = 1 - smooth(0.6, 2.2, d);
      if (a <= 0) continue;
      const o = (y * SIZE + x) * 3;
      const target = y < cy ? [245, 238, 225] : [60, 48, 40];
      for (let c = 0; c < 3; c++) img[o + c] = img[o + c] * (1 - a) + target[c] * a;
    }
  }
  return img;
}

function stain(img) {
  // A soft brown stain with a darker rim.
  const [cx, cy, rx, ry] = [152, 96, 24, 17];
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) {
      const d = Math.hypot((x - cx) / rx, (y - cy) / ry);
      if (d > 1.3) continue;
      const a = 0.75 * (1 - smooth(0.8, 1.15, d)) + 0.2 * Math.exp(-((d - 0.95) ** 2) / 0.01);
      const o = (y * SIZE + x) * 3;
      const target = [96, 62, 30];
      for (let c = 0; c < 3; c++) img[o + c] = img[o + c] * (1 - a) + target[c] * a * (img[o + c] / 200);
    }
  }
  return img;
}

/** A woven metal mesh on a dark background, with one broken and bent wire. */
function mesh(seed) {
  const r = rng(seed);
  const img = new Float32Array(SIZE * SIZE * 3);
  const pitch = 16;
  const wire = (p) => {
    const d = Math.abs(((p % pitch) + pitch) % pitch - pitch / 2);
    return 1 - smooth(1.2, 2.6, d);
  };
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) {
      let v = wire(x); // vertical wires
      let h = wire(y); // horizontal wires
      // the broken wire: the vertical wire at x=104 is missing between y 113 and 152 and the
      // horizontal one at y=136 between x 92 and 116; two bent stubs stick into the hole
      if (Math.abs(x - 104) < 4 && y > 113 && y < 152) v = 0;
      if (Math.abs(y - 136) < 4 && x > 92 && x < 116) h = 0;
      const stubDown = y >= 140 && y < 152 ? 1 - smooth(1.0, 2.4, Math.abs(x - (104 + (152 - y) * 0.9))) : 0;
      const stubRight = x >= 104 && x < 116 ? 1 - smooth(1.0, 2.4, Math.abs(y - (136 - (x - 116) * 0.7))) : 0;
      v = Math.max(v, stubDown, stubRight);
      const m = Math.max(v, h);
      const spec = 0.85 + 0.15 * r();
      const o = (y * SIZE + x) * 3;
      const bg = [38, 40, 44];
      const metal = [190, 196, 204];
      for (let c = 0; c < 3; c++) img[o + c] = (bg[c] * (1 - m) + metal[c] * m) * spec;
    }
  }
  return img;
}

function toRgb(img) {
  const out = new Uint8Array(img.length);
  for (let i = 0; i < img.length; i++) out[i] = clamp8(img[i]);
  return out;
}

/** The sample images by file name (RGB, SIZE×SIZE). */
export function drawSamples() {
  return {
    "fabric-good.png": toRgb(fabric(1)),
    "fabric-scratch.png": toRgb(scratch(fabric(1))),
    "fabric-spot.png": toRgb(stain(fabric(1))),
    "grid-hole.png": toRgb(mesh(2)),
  };
}

export const SAMPLE_SIZE = SIZE;

const isMain = process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href;
if (isMain) {
  const here = dirname(fileURLToPath(import.meta.url));
  const out = resolve(process.argv[2] ?? join(here, "../../www/samples"));
  const list = JSON.parse(readFileSync(join(here, "../src/samples.json"), "utf8"));
  const drawn = drawSamples();
  mkdirSync(out, { recursive: true });
  for (const s of list) {
    const rgb = drawn[s.file];
    if (!rgb) throw new Error(`samples.json names ${s.file}, which this script does not draw`);
    const png = encodePng(rgb, SIZE, SIZE);
    writeFileSync(join(out, s.file), png);
    console.log(`${join(out, s.file)}: ${png.length} bytes`);
  }
}

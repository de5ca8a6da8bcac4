import { inflateSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { crc32, drawSamples, encodePng, SAMPLE_SIZE } from "../scripts/make-samples.mjs";
import samples from "../src/samples.json";

describe("sample images", () => {
  it("samples.json and the generator agree", () => {
    expect(samples.map((s) => s.file).sort()).toEqual(Object.keys(drawSamples()).sort());
  });
  it("crc32 is the PNG one", () => {
    expect(crc32(Buffer.from("IEND"))).toBe(0xae426082);
  });
  it("encodes a PNG that decodes back to the pixels", () => {
    const rgb = new Uint8Array([255, 0, 0, 0, 255, 0, 0, 0, 255, 9, 9, 9]);
    const png: Buffer = encodePng(rgb, 2, 2);
    expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const idatLen = png.readUInt32BE(33);
    expect(png.toString("ascii", 37, 41)).toBe("IDAT");
    const raw = inflateSync(png.subarray(41, 41 + idatLen));
    expect([...raw]).toEqual([0, 255, 0, 0, 0, 255, 0, 0, 0, 0, 255, 9, 9, 9]);
  });
  it("draws different images for the defect variants", () => {
    const d = drawSamples();
    const diff = (a: Uint8Array, b: Uint8Array) => a.reduce((n, v, i) => n + (v !== b[i] ? 1 : 0), 0);
    expect(d["fabric-good.png"].length).toBe(SAMPLE_SIZE * SAMPLE_SIZE * 3);
    expect(diff(d["fabric-good.png"], d["fabric-scratch.png"])).toBeGreaterThan(300);
    expect(diff(d["fabric-good.png"], d["fabric-spot.png"])).toBeGreaterThan(1000);
  });
});

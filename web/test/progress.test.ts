import { describe, expect, it } from "vitest";
import { DownloadProgress, formatBytes, formatProgress, percentOf, throttle } from "../src/progress";

const files = [
  { file: "a.safetensors", bytes: 1000 },
  { file: "b.safetensors", bytes: 3000 },
];

describe("DownloadProgress", () => {
  it("adds bytes across files against the manifest's total", () => {
    const p = new DownloadProgress(files);
    expect(p.snapshot()).toEqual({ loaded: 0, total: 4000, fromCache: 0, filesDone: 0, filesTotal: 2, percent: 0 });
    p.markCached("a.safetensors");
    p.update("b.safetensors", 1500);
    expect(p.snapshot()).toMatchObject({ loaded: 2500, fromCache: 1000, filesDone: 1, percent: 62 });
    p.markDone("b.safetensors");
    expect(p.snapshot()).toMatchObject({ loaded: 4000, fromCache: 1000, filesDone: 2, percent: 100 });
  });
  it("never counts more than a file's size, nor less than 0", () => {
    const p = new DownloadProgress(files);
    p.update("a.safetensors", 99999);
    p.update("b.safetensors", -5);
    expect(p.snapshot().loaded).toBe(1000);
  });
  it("restarts a file that is fetched again", () => {
    const p = new DownloadProgress(files);
    p.markCached("a.safetensors");
    p.reset("a.safetensors");
    expect(p.snapshot()).toMatchObject({ loaded: 0, fromCache: 0, filesDone: 0 });
    p.update("a.safetensors", 400);
    expect(p.snapshot().loaded).toBe(400);
  });
  it("rejects unknown files", () => {
    expect(() => new DownloadProgress(files).update("c", 1)).toThrow(/not in the manifest/);
  });
  it("an empty bundle is complete", () => {
    expect(new DownloadProgress([]).snapshot().percent).toBe(100);
  });
});

describe("formatting", () => {
  it("formats bytes in decimal units", () => {
    expect(formatBytes(0)).toBe("0 B");
    expect(formatBytes(999)).toBe("999 B");
    expect(formatBytes(1500)).toBe("1.50 kB");
    expect(formatBytes(12_345_678)).toBe("12.3 MB");
    expect(formatBytes(456_000_000)).toBe("456 MB");
    expect(formatBytes(1.02e9)).toBe("1.02 GB");
    expect(formatBytes(-1)).toBe("? B");
  });
  it("formats progress", () => {
    expect(formatProgress(12_300_000, 45_600_000)).toBe("12.3 MB / 45.6 MB (26%)");
    expect(percentOf(5, 0)).toBe(100);
    expect(percentOf(50, 100)).toBe(50);
    expect(percentOf(150, 100)).toBe(100);
  });
});

describe("throttle", () => {
  it("runs at most once per interval unless forced", () => {
    let now = 0;
    const t = throttle(100, () => now);
    let n = 0;
    t(() => n++);
    t(() => n++);
    now = 50;
    t(() => n++);
    t(() => n++, true);
    now = 160;
    t(() => n++);
    expect(n).toBe(3);
  });
});

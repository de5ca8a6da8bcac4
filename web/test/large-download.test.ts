import { describe, expect, it } from "vitest";
import { bytesToFetch, type CacheLike } from "../src/bundle";
import { CONFIRM_ABOVE_BYTES, confirmAboveFromQuery, largeDownloadText } from "../src/large-download";

describe("the limit", () => {
  it("is 100 MB unless ?confirm-mb says otherwise; a bad value is reported", () => {
    expect(CONFIRM_ABOVE_BYTES).toBe(100_000_000);
    expect(confirmAboveFromQuery("")).toEqual({ bytes: 100_000_000, warning: null });
    expect(confirmAboveFromQuery("?confirm-mb=0")).toEqual({ bytes: 0, warning: null });
    expect(confirmAboveFromQuery("?confirm-mb=2.5")).toEqual({ bytes: 2_500_000, warning: null });
    const bad = confirmAboveFromQuery("?confirm-mb=lots");
    expect(bad.bytes).toBe(100_000_000);
    expect(bad.warning).toMatch(/not a size in MB/);
    expect(confirmAboveFromQuery("?confirm-mb=-3").warning).toMatch(/not a size/);
  });
});

describe("bytesToFetch", () => {
  const files = [
    { file: "a.safetensors", bytes: 100, sha256: "0".repeat(64) },
    { file: "b.safetensors", bytes: 30, sha256: "1".repeat(64) },
  ];
  it("counts the files the cache has no copy of; every file without a cache", async () => {
    const cache: CacheLike = {
      match: async (key) => (key.endsWith("/b.safetensors") ? new Response("x") : undefined),
      put: async () => undefined,
      delete: async () => false,
    };
    expect(await bytesToFetch(files, "http://h/models/m/", cache)).toBe(100);
    expect(await bytesToFetch(files, "http://h/models/m/", null)).toBe(130);
    const broken: CacheLike = { ...cache, match: () => Promise.reject(new Error("SecurityError")) };
    expect(await bytesToFetch(files, "http://h/models/m/", broken)).toBe(130);
  });
});

describe("largeDownloadText", () => {
  const base = { type: "confirmDownload" as const, bytes: 310e6, totalBytes: 310e6, backend: "cpu" as const, threads: 2 };
  it("says the size, the arithmetic, the measured speed and the time that follows", () => {
    const t = largeDownloadText({ ...base, estimate: { gflop: 190.4, gflopPerSecond: 47.6, ms: 4000 } });
    expect(t).toBe(
      "This model needs a download of 310 MB. One detection is 190 GFLOP; the CPU (2 threads) did 47.6 GFLOP/s here " +
        "just now, so each detection will take at least 4.0 s.",
    );
  });
  it("names the cached part, WebGPU, and a speed it could not measure", () => {
    const t = largeDownloadText({ ...base, bytes: 200e6, backend: "webgpu", threads: null, estimate: null });
    expect(t).toBe(
      "This model needs a download of 200 MB (310 MB in all; the rest is in this browser's cache). " +
        "How long a detection takes on WebGPU could not be measured.",
    );
  });
});

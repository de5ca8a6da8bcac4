import { IDBFactory } from "fake-indexeddb";
import { describe, expect, it } from "vitest";
import {
  bundleKey,
  checkRecord,
  isStaleVersion,
  makeRecord,
  REFERENCE_DB,
  referenceKey,
  ReferenceStore,
  type BundleIdentity,
} from "../src/reference-store";

const demo: BundleIdentity = { name: "demo", sha256: "320BC8DBA99903B2A724B39EED6A0629AB0003B6A584EC9583B632E02A6C1376" };
const demoRetrained: BundleIdentity = { name: "demo", sha256: "0".repeat(64) };
const other: BundleIdentity = { name: "e2e-tiny", sha256: demo.sha256 };
const bytes = (n: number, fill = 7) => new Uint8Array(n).fill(fill).buffer;

describe("keys", () => {
  it("a bundle is its manifest name plus its first file's SHA-256 (lower case)", () => {
    expect(bundleKey(demo)).toBe("demo@sha256:320bc8dba99903b2a724b39eed6a0629ab0003b6a584ec9583b632e02a6c1376");
    expect(bundleKey({ ...demo, sha256: demo.sha256.toLowerCase() })).toBe(bundleKey(demo));
  });
  it("a changed bundle (same name, other file) or another bundle never shares a key", () => {
    expect(referenceKey(demo, "carpet")).not.toEqual(referenceKey(demoRetrained, "carpet"));
    expect(referenceKey(demo, "carpet")).not.toEqual(referenceKey(other, "carpet"));
    expect(referenceKey(demo, "carpet")).not.toEqual(referenceKey(demo, "wood"));
    expect(referenceKey(demo, "carpet")).toEqual([bundleKey(demo), "carpet"]);
  });
  it("stale versions: same name, other identity", () => {
    const r = makeRecord(demoRetrained, "carpet", bytes(4), 8);
    expect(isStaleVersion(r, demo)).toBe(true);
    expect(isStaleVersion(makeRecord(demo, "carpet", bytes(4), 8), demo)).toBe(false);
    expect(isStaleVersion(makeRecord(other, "carpet", bytes(4), 8), demo)).toBe(false);
  });
});

describe("records", () => {
  it("carry the bytes, the image count and the date", () => {
    const r = makeRecord(demo, "carpet", bytes(10), 8, 1_700_000_000_000);
    expect(r).toEqual({ bundle: bundleKey(demo), name: "demo", category: "carpet", memory: bytes(10), images: 8, created: 1_700_000_000_000 });
    expect(checkRecord(r)).toBeNull();
  });
  it("checkRecord names what is wrong with one read back", () => {
    const good = makeRecord(demo, "carpet", bytes(10), 8);
    expect(checkRecord(null)).toMatch(/not an object/);
    expect(checkRecord({ ...good, category: 3 })).toMatch(/category/);
    expect(checkRecord({ ...good, memory: new Uint8Array(4) })).toMatch(/memory/);
    expect(checkRecord({ ...good, memory: new ArrayBuffer(0) })).toMatch(/memory/);
    expect(checkRecord({ ...good, images: 0 })).toMatch(/image count/);
    expect(checkRecord({ ...good, images: 2.5 })).toMatch(/image count/);
    expect(checkRecord({ ...good, created: "yesterday" })).toMatch(/date/);
  });
});

describe("ReferenceStore (IndexedDB, fake-indexeddb)", () => {
  it("puts, lists by bundle, replaces, deletes", async () => {
    const idb = new IDBFactory();
    const s = await ReferenceStore.open(idb);
    await s.put(makeRecord(demo, "carpet", bytes(100, 1), 8, 1));
    await s.put(makeRecord(demo, "wood", bytes(50, 2), 3, 2));
    await s.put(makeRecord(other, "carpet", bytes(20, 3), 1, 3));
    const list = (await s.list(demo)) as ReturnType<typeof makeRecord>[];
    expect(list.map((r) => [r.category, r.images, r.memory.byteLength]).sort()).toEqual([
      ["carpet", 8, 100],
      ["wood", 3, 50],
    ]);
    expect(new Uint8Array(list.find((r) => r.category === "carpet")!.memory)[0]).toBe(1);
    // same bundle and category: replaced, not added
    await s.put(makeRecord(demo, "carpet", bytes(30, 9), 16, 4));
    expect(((await s.get(demo, "carpet")) as ReturnType<typeof makeRecord>).images).toBe(16);
    expect(await s.list(demo)).toHaveLength(2);
    await s.delete(demo, "carpet");
    expect(await s.get(demo, "carpet")).toBeUndefined();
    expect(((await s.list(demo)) as { category: string }[]).map((r) => r.category)).toEqual(["wood"]);
    expect(await s.list(other)).toHaveLength(1);
    // a changed bundle gets nothing of the old one's
    expect(await s.list(demoRetrained)).toEqual([]);
    s.close();
  });

  it("survives reopening (another page load)", async () => {
    const idb = new IDBFactory();
    const a = await ReferenceStore.open(idb);
    await a.put(makeRecord(demo, "carpet", bytes(8), 8, 5));
    a.close();
    const b = await ReferenceStore.open(idb, REFERENCE_DB);
    expect(((await b.list(demo)) as { images: number }[]).map((r) => r.images)).toEqual([8]);
    b.close();
  });

  it("pruneStale deletes the memories of other versions of the same bundle only", async () => {
    const s = await ReferenceStore.open(new IDBFactory());
    await s.put(makeRecord(demoRetrained, "carpet", bytes(8), 8));
    await s.put(makeRecord(demoRetrained, "wood", bytes(8), 8));
    await s.put(makeRecord(demo, "carpet", bytes(8), 8));
    await s.put(makeRecord(other, "carpet", bytes(8), 8));
    expect(await s.pruneStale(demo)).toBe(2);
    expect(await s.list(demoRetrained)).toEqual([]);
    expect(await s.list(demo)).toHaveLength(1);
    expect(await s.list(other)).toHaveLength(1);
    s.close();
  });

  it("rejects without IndexedDB", async () => {
    await expect(ReferenceStore.open(undefined as unknown as IDBFactory)).rejects.toThrow(/IndexedDB is not available/);
  });
});

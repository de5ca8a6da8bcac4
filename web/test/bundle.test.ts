import { describe, expect, it } from "vitest";
import {
  BundleFileError,
  fetchManifest,
  fileUrl,
  getVerifiedFile,
  MANIFEST_CACHE,
  pruneWeightCaches,
  sha256Hex,
  verifyFile,
  weightsCacheName,
  type CacheLike,
  type CacheStorageLike,
  type FileDeps,
} from "../src/bundle";

const enc = new TextEncoder();
const GOOD = enc.encode("the weights of a tiny model");
const BAD = enc.encode("the weights of a tiny mode!"); // same length, different bytes
const BASE = "http://127.0.0.1:8080/models/demo/";

async function entry(bytes = GOOD) {
  return { file: "weights-00000.safetensors", bytes: bytes.length, sha256: await sha256Hex(bytes) };
}

class FakeCache implements CacheLike {
  store = new Map<string, Uint8Array>();
  puts: string[] = [];
  deletes: string[] = [];
  failPut = false;
  async match(key: string) {
    const b = this.store.get(key);
    return b ? new Response(b.slice()) : undefined;
  }
  async put(key: string, res: Response) {
    if (this.failPut) throw new Error("QuotaExceededError");
    this.puts.push(key);
    this.store.set(key, new Uint8Array(await res.arrayBuffer()));
  }
  async delete(key: string) {
    this.deletes.push(key);
    return this.store.delete(key);
  }
}

class FakeStorage implements CacheStorageLike {
  caches = new Map<string, FakeCache>();
  async open(name: string) {
    if (!this.caches.has(name)) this.caches.set(name, new FakeCache());
    return this.caches.get(name)!;
  }
  async keys() {
    return [...this.caches.keys()];
  }
  async delete(name: string) {
    return this.caches.delete(name);
  }
}

/** A fetch that serves `bodies` in turn (streamed in 2 chunks) and records the calls. */
function fakeFetch(...bodies: (Uint8Array | number)[]) {
  const calls: { url: string; init?: RequestInit }[] = [];
  const fn = async (url: string, init?: RequestInit) => {
    calls.push({ url, init });
    const b = bodies[Math.min(calls.length - 1, bodies.length - 1)];
    if (typeof b === "number") return new Response("nope", { status: b, statusText: b === 404 ? "Not Found" : "Error" });
    const half = Math.floor(b.length / 2);
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(b.slice(0, half));
        c.enqueue(b.slice(half));
        c.close();
      },
    });
    return new Response(stream);
  };
  return { fn, calls };
}

function deps(cache: CacheLike | null, fetchFn: FileDeps["fetch"]) {
  const notices: string[] = [];
  const bytes: [string, number][] = [];
  const retries: string[] = [];
  const d: FileDeps = {
    fetch: fetchFn,
    sha256: sha256Hex,
    cache,
    notice: (m) => notices.push(m),
    onBytes: (f, n) => bytes.push([f, n]),
    onRetry: (f) => retries.push(f),
  };
  return { d, notices, bytes, retries };
}

describe("urls and names", () => {
  it("keeps files inside the bundle folder", () => {
    expect(fileUrl(BASE, "weights-00000.safetensors")).toBe(`${BASE}weights-00000.safetensors`);
    expect(() => fileUrl(BASE, "../other/x")).toThrow(/outside the bundle folder/);
    expect(() => fileUrl(BASE, "//evil.example/x")).toThrow(/outside the bundle folder/);
  });
  it("versions the cache by the manifest hash", () => {
    expect(weightsCacheName("/models/demo/", "0123456789abcdef0123")).toBe("acd-weights-v1:/models/demo/:0123456789abcdef");
  });
  it("computes SHA-256", async () => {
    expect(await sha256Hex(enc.encode("abc"))).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });
});

describe("verifyFile", () => {
  it("accepts a matching file and explains a mismatch", async () => {
    const e = await entry();
    expect(await verifyFile(e, GOOD, sha256Hex)).toBeNull();
    expect(await verifyFile(e, BAD, sha256Hex)).toMatch(/fails its SHA-256 check \(expected [0-9a-f]{12}…, got [0-9a-f]{12}…\)/);
    expect(await verifyFile(e, GOOD.slice(1), sha256Hex)).toMatch(/has 26 bytes, manifest.json says 27/);
  });
});

describe("getVerifiedFile", () => {
  const url = `${BASE}weights-00000.safetensors`;

  it("downloads, reports progress, and caches a good file", async () => {
    const cache = new FakeCache();
    const f = fakeFetch(GOOD);
    const { d, bytes, notices } = deps(cache, f.fn);
    const got = await getVerifiedFile(await entry(), url, d);
    expect(got).toMatchObject({ fromCache: false, downloads: 1 });
    expect([...got.bytes]).toEqual([...GOOD]);
    expect(bytes.map(([, n]) => n)).toEqual([13, 27]);
    expect(cache.puts).toEqual([url]);
    expect(notices).toEqual([]);
  });

  it("serves a good cached file without any request", async () => {
    const cache = new FakeCache();
    cache.store.set(url, GOOD);
    const f = fakeFetch(500);
    const { d } = deps(cache, f.fn);
    const got = await getVerifiedFile(await entry(), url, d);
    expect(got).toMatchObject({ fromCache: true, downloads: 0 });
    expect(f.calls).toHaveLength(0);
  });

  it("evicts a corrupt cached file, names it, and fetches it again bypassing the HTTP cache", async () => {
    const cache = new FakeCache();
    cache.store.set(url, BAD);
    const f = fakeFetch(GOOD);
    const { d, notices, retries } = deps(cache, f.fn);
    const got = await getVerifiedFile(await entry(), url, d);
    expect(got).toMatchObject({ fromCache: false, downloads: 1 });
    expect(cache.deletes).toEqual([url]);
    expect(retries).toEqual(["weights-00000.safetensors"]);
    expect(notices[0]).toMatch(/^weights-00000\.safetensors fails its SHA-256 check .*copy in the browser cache.*evicted it, downloading it again/);
    expect(f.calls[0].init?.cache).toBe("reload");
    expect([...cache.store.get(url)!]).toEqual([...GOOD]);
  });

  it("retries a corrupt download once", async () => {
    const cache = new FakeCache();
    const f = fakeFetch(BAD, GOOD);
    const { d, notices } = deps(cache, f.fn);
    const got = await getVerifiedFile(await entry(), url, d);
    expect(got.downloads).toBe(2);
    expect(f.calls.map((c) => c.init?.cache)).toEqual(["default", "reload"]);
    expect(notices[0]).toMatch(/as downloaded/);
    expect(cache.puts).toEqual([url]); // only the good copy was kept
  });

  it("fails with the file's name when the second copy is bad too, and caches nothing", async () => {
    const cache = new FakeCache();
    const f = fakeFetch(BAD, BAD);
    const { d } = deps(cache, f.fn);
    const err = await getVerifiedFile(await entry(), url, d).catch((e) => e);
    expect(err).toBeInstanceOf(BundleFileError);
    expect(err.file).toBe("weights-00000.safetensors");
    expect(err.message).toMatch(/^weights-00000\.safetensors is corrupt: it fails its SHA-256 check .* after downloading it again/);
    expect(cache.store.size).toBe(0);
    expect(f.calls).toHaveLength(2);
  });

  it("reports a size mismatch the same way", async () => {
    const f = fakeFetch(GOOD.slice(0, 10), GOOD);
    const { d, notices } = deps(null, f.fn);
    await getVerifiedFile(await entry(), url, d);
    expect(notices[0]).toMatch(/has 10 bytes, manifest.json says 27/);
  });

  it("does not read past the declared size, and sizes no buffer by it", async () => {
    const long = new Uint8Array(4096).fill(7);
    const f = fakeFetch(long, GOOD);
    const { d, notices } = deps(null, f.fn);
    const got = await getVerifiedFile(await entry(), url, d);
    expect(notices[0]).toMatch(/has 2048 bytes, manifest.json says 27/); // stopped after the first chunk past the size
    expect([...got.bytes]).toEqual([...GOOD]);
  });

  it("names the file on HTTP errors", async () => {
    const { d } = deps(null, fakeFetch(404).fn);
    await expect(getVerifiedFile(await entry(), url, d)).rejects.toThrow(/could not download weights-00000.safetensors: HTTP 404 Not Found/);
  });

  it("works when caching fails (quota), with a notice", async () => {
    const cache = new FakeCache();
    cache.failPut = true;
    const { d, notices } = deps(cache, fakeFetch(GOOD).fn);
    const got = await getVerifiedFile(await entry(), url, d);
    expect(got.fromCache).toBe(false);
    expect(notices[0]).toMatch(/could not keep weights-00000.safetensors in the browser cache/);
  });

  it("works without the Cache API", async () => {
    const { d } = deps(null, fakeFetch(GOOD).fn);
    expect((await getVerifiedFile(await entry(), url, d)).downloads).toBe(1);
  });
});

describe("caches and manifest", () => {
  it("prunes older caches of the same model only", async () => {
    const s = new FakeStorage();
    for (const n of ["acd-weights-v1:/models/demo/:old", "acd-weights-v1:/models/demo/:new", "acd-weights-v1:/models/other/:x", "acd-shell-1"]) await s.open(n);
    expect(await pruneWeightCaches(s, "/models/demo/", "acd-weights-v1:/models/demo/:new")).toEqual(["acd-weights-v1:/models/demo/:old"]);
    expect(await s.keys()).toEqual(["acd-weights-v1:/models/demo/:new", "acd-weights-v1:/models/other/:x", "acd-shell-1"]);
  });

  it("fetches the manifest revalidating, and falls back to the kept copy offline", async () => {
    const s = new FakeStorage();
    const url = `${BASE}manifest.json`;
    const calls: RequestInit[] = [];
    const online = async (_u: string, init?: RequestInit) => {
      calls.push(init!);
      return new Response('{"a":1}');
    };
    expect(await fetchManifest(url, online, s)).toEqual({ text: '{"a":1}', offline: false });
    expect(calls[0].cache).toBe("no-cache");
    expect((await s.open(MANIFEST_CACHE)).store.has(url)).toBe(true);
    const offline = async () => {
      throw new TypeError("Failed to fetch");
    };
    expect(await fetchManifest(url, offline, s)).toEqual({ text: '{"a":1}', offline: true });
    await expect(fetchManifest(url, offline, new FakeStorage())).rejects.toThrow(/could not fetch .*are you offline/);
  });

  it("explains a missing bundle", async () => {
    const nf = async () => new Response("", { status: 404 });
    await expect(fetchManifest(`${BASE}manifest.json`, nf, null)).rejects.toThrow(/no model bundle at .*HTTP 404.*acd export/);
  });
});

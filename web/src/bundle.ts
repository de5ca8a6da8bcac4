// Fetching a model bundle (models/<name>/manifest.json + the files it lists) with the Cache API:
// - every file's size and SHA-256 are checked (crypto.subtle) before use;
// - a verified file is kept in a cache whose name carries a hash of the manifest, so a new export
//   never mixes with old shards and a reload starts without downloading;
// - a file that fails its check (from the cache or the network) is reported by name, evicted and
//   fetched once more bypassing the HTTP cache; failing again is an error naming the file.
// Everything that touches the browser (fetch, caches, digest) is passed in, so the logic is
// unit-tested with fakes.

import type { AcdManifestFile } from "./acd-types";

/** One file of a bundle, as the wasm module's `parseManifest` checked it (the page checks nothing
 * of the manifest itself: one validator, the one that loads the bundle). */
export type BundleFileEntry = AcdManifestFile;

/** Download buffers start at most this big and grow with the data actually received. */
const INITIAL_BUFFER_BYTES = 64 << 20;
export const WEIGHTS_CACHE_PREFIX = "acd-weights-v1";
export const MANIFEST_CACHE = "acd-manifests-v1";

/** URL of a bundle file; refuses anything that would leave the bundle folder (or the origin). */
export function fileUrl(modelUrl: string, file: string): string {
  const base = new URL(modelUrl);
  const u = new URL(file, base);
  if (u.origin !== base.origin || !u.href.startsWith(base.href)) {
    throw new Error(`bundle file ${file} resolves outside the bundle folder (${u.href})`);
  }
  return u.href;
}

// ---- hashing -----------------------------------------------------------------------------------

export function toHex(buf: ArrayBuffer): string {
  const b = new Uint8Array(buf);
  let s = "";
  for (let i = 0; i < b.length; i++) s += b[i].toString(16).padStart(2, "0");
  return s;
}

/** SHA-256 (lower-case hex) with crypto.subtle. */
export async function sha256Hex(bytes: Uint8Array | ArrayBuffer): Promise<string> {
  const data = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  return toHex(await crypto.subtle.digest("SHA-256", data as Uint8Array<ArrayBuffer>));
}

/** Name of the weights cache for a manifest: versioned by the manifest's own hash. */
export function weightsCacheName(modelName: string, manifestSha256: string): string {
  return `${WEIGHTS_CACHE_PREFIX}:${modelName}:${manifestSha256.slice(0, 16)}`;
}

// ---- the Cache API, as far as we use it ----------------------------------------------------

export interface CacheLike {
  match(key: string): Promise<Response | undefined>;
  put(key: string, response: Response): Promise<void>;
  delete(key: string): Promise<boolean>;
}

export interface CacheStorageLike {
  open(name: string): Promise<CacheLike>;
  keys(): Promise<string[]>;
  delete(name: string): Promise<boolean>;
}

/** Deletes the weights caches of `modelName` other than `keep` (older exports); returns their names. */
export async function pruneWeightCaches(storage: CacheStorageLike, modelName: string, keep: string): Promise<string[]> {
  const prefix = `${WEIGHTS_CACHE_PREFIX}:${modelName}:`;
  const gone: string[] = [];
  for (const name of await storage.keys()) {
    if (name.startsWith(prefix) && name !== keep) {
      await storage.delete(name);
      gone.push(name);
    }
  }
  return gone;
}

// ---- manifest --------------------------------------------------------------------------------

export type FetchLike = (url: string, init?: RequestInit) => Promise<Response>;

export interface ManifestResult {
  text: string;
  /** true when the network failed and the last copy from the manifest cache was used */
  offline: boolean;
}

/**
 * Fetches manifest.json (revalidating), remembering the last good copy in a cache so the page
 * also starts offline.
 */
export async function fetchManifest(url: string, fetchFn: FetchLike, storage: CacheStorageLike | null): Promise<ManifestResult> {
  let res: Response;
  try {
    res = await fetchFn(url, { cache: "no-cache", credentials: "same-origin" });
  } catch (e) {
    const cache = storage ? await storage.open(MANIFEST_CACHE).catch(() => null) : null;
    const hit = cache ? await cache.match(url).catch(() => undefined) : undefined;
    if (hit) return { text: await hit.text(), offline: true };
    throw new Error(`could not fetch ${url} (${(e as Error).message}); are you offline?`);
  }
  if (res.status === 404) {
    throw new Error(`no model bundle at ${url} (HTTP 404). Export one into www/models/<name>/ with \`acd export\` and open the page with ?model=<name>`);
  }
  if (!res.ok) throw new Error(`could not fetch ${url}: HTTP ${res.status} ${res.statusText}`);
  const text = await res.text();
  if (storage) {
    try {
      const cache = await storage.open(MANIFEST_CACHE);
      await cache.put(url, new Response(text, { headers: { "Content-Type": "application/json" } }));
    } catch {
      /* offline start is a bonus; never fail the load for it */
    }
  }
  return { text, offline: false };
}

// ---- files -----------------------------------------------------------------------------------

export interface FileDeps {
  fetch: FetchLike;
  sha256: (bytes: Uint8Array) => Promise<string>;
  /** the versioned weights cache, or null when the Cache API is unavailable */
  cache: CacheLike | null;
  /** bytes received so far for a file (download progress) */
  onBytes?: (file: string, received: number) => void;
  /** the file failed its check and is fetched again: its progress restarts at 0 */
  onRetry?: (file: string) => void;
  /** a user-visible remark that is not an error */
  notice?: (message: string) => void;
}

export interface FileResult {
  bytes: Uint8Array;
  fromCache: boolean;
  /** network downloads made (0 when the cache served it) */
  downloads: number;
}

export class BundleFileError extends Error {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(message);
    this.name = "BundleFileError";
  }
}

const short = (h: string): string => `${h.slice(0, 12)}…`;

/** null when the bytes match the entry, else what is wrong (without the file name). */
export async function verifyFile(entry: BundleFileEntry, bytes: Uint8Array, sha256: FileDeps["sha256"]): Promise<string | null> {
  if (bytes.length !== entry.bytes) return `has ${bytes.length} bytes, manifest.json says ${entry.bytes}`;
  const got = (await sha256(bytes)).toLowerCase();
  if (got !== entry.sha256) return `fails its SHA-256 check (expected ${short(entry.sha256)}, got ${short(got)})`;
  return null;
}

async function download(url: string, entry: BundleFileEntry, deps: FileDeps, mode: RequestCache): Promise<Uint8Array> {
  let res: Response;
  try {
    res = await deps.fetch(url, { cache: mode, credentials: "same-origin" });
  } catch (e) {
    throw new BundleFileError(entry.file, `could not download ${entry.file} (${(e as Error).message})`);
  }
  if (!res.ok) throw new BundleFileError(entry.file, `could not download ${entry.file}: HTTP ${res.status} ${res.statusText}`.trim());
  if (!res.body) {
    const b = new Uint8Array(await res.arrayBuffer());
    deps.onBytes?.(entry.file, b.length);
    return b;
  }
  // Stream into one buffer of the expected size (at most INITIAL_BUFFER_BYTES to start with:
  // the declared size is not trusted with memory). More data than the manifest declares is
  // not read: the copy is wrong, and the check that follows says so.
  let buf = new Uint8Array(Math.min(entry.bytes, INITIAL_BUFFER_BYTES));
  let n = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (n + value.length > entry.bytes) {
      await reader.cancel().catch(() => undefined);
      const over = new Uint8Array(n + value.length);
      over.set(buf.subarray(0, n));
      over.set(value, n);
      deps.onBytes?.(entry.file, over.length);
      return over;
    }
    if (n + value.length > buf.length) {
      const bigger = new Uint8Array(Math.max(buf.length * 2, n + value.length));
      bigger.set(buf.subarray(0, n));
      buf = bigger;
    }
    buf.set(value, n);
    n += value.length;
    deps.onBytes?.(entry.file, n);
  }
  return n === buf.length ? buf : buf.slice(0, n);
}

async function keep(deps: FileDeps, url: string, entry: BundleFileEntry, bytes: Uint8Array): Promise<void> {
  if (!deps.cache) return;
  try {
    await deps.cache.put(
      url,
      new Response(bytes as Uint8Array<ArrayBuffer>, {
        headers: { "Content-Type": "application/octet-stream", "Content-Length": String(bytes.length) },
      }),
    );
  } catch (e) {
    deps.notice?.(`could not keep ${entry.file} in the browser cache (${(e as Error).message}); the next visit downloads it again`);
  }
}

/** Bytes still to download: the files the cache holds no copy of (a copy that turns out bad is
 * found, and fetched, later by getVerifiedFile). Without a cache, every file. */
export async function bytesToFetch(files: BundleFileEntry[], modelUrl: string, cache: CacheLike | null): Promise<number> {
  let bytes = 0;
  for (const entry of files) {
    const hit = cache ? await cache.match(fileUrl(modelUrl, entry.file)).catch(() => undefined) : undefined;
    if (!hit) bytes += entry.bytes;
  }
  return bytes;
}

/**
 * A verified copy of one bundle file: from the cache when it holds a good copy, else downloaded
 * (and then cached). A bad copy is evicted and fetched once more; a second failure throws.
 */
export async function getVerifiedFile(entry: BundleFileEntry, url: string, deps: FileDeps): Promise<FileResult> {
  let bytes: Uint8Array | null = null;
  let fromCache = false;
  let downloads = 0;
  if (deps.cache) {
    const hit = await deps.cache.match(url).catch(() => undefined);
    if (hit) {
      try {
        bytes = new Uint8Array(await hit.arrayBuffer());
        fromCache = true;
      } catch {
        bytes = null;
      }
    }
  }
  if (!bytes) {
    bytes = await download(url, entry, deps, "default");
    downloads++;
  }
  const problem = await verifyFile(entry, bytes, deps.sha256);
  if (!problem) {
    if (!fromCache) await keep(deps, url, entry, bytes);
    return { bytes, fromCache, downloads };
  }

  deps.notice?.(
    `${entry.file} ${problem} (${fromCache ? "copy in the browser cache" : "as downloaded"}): ` +
      `${fromCache ? "evicted it, " : ""}downloading it again`,
  );
  if (deps.cache) await deps.cache.delete(url).catch(() => false);
  deps.onRetry?.(entry.file);
  bytes = await download(url, entry, deps, "reload");
  downloads++;
  const again = await verifyFile(entry, bytes, deps.sha256);
  if (again) {
    throw new BundleFileError(
      entry.file,
      `${entry.file} is corrupt: it ${again} after downloading it again. The copy on the server does not match ` +
        `manifest.json; export the bundle again.`,
    );
  }
  await keep(deps, url, entry, bytes);
  return { bytes, fromCache: false, downloads };
}

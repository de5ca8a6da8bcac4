// Fetching a model bundle (models/<name>/manifest.json + the files it lists) with the Cache API:
// - every file's size and SHA-256 are checked (crypto.subtle) before use;
// - a verified file is kept in a cache whose name carries a hash of the manifest, so a new export
//   never mixes with old shards and a reload starts without downloading;
// - a file that fails its check (from the cache or the network) is reported by name, evicted and
//   fetched once more bypassing the HTTP cache; failing again is an error naming the file.
// Everything that touches the browser (fetch, caches, digest) is passed in, so the logic is
// unit-tested with fakes.

export const BUNDLE_FORMAT = "acd-clip-bundle";
/** The bundle version this page reads (crates/core/src/weights/bundle.rs BUNDLE_VERSION). */
export const BUNDLE_VERSION = 1;
/** Largest file a manifest may declare: shards are ≤ 64 MiB, so anything near this is a lie
 * that must not size a buffer. */
export const MAX_BUNDLE_FILE_BYTES = 1 << 30;
/** Download buffers start at most this big and grow with the data actually received. */
const INITIAL_BUFFER_BYTES = 64 << 20;
export const WEIGHTS_CACHE_PREFIX = "acd-weights-v1";
export const MANIFEST_CACHE = "acd-manifests-v1";

export interface BundleFileEntry {
  file: string;
  bytes: number;
  sha256: string;
}

export interface BundleCategory {
  key: string;
  real_name: string;
}

export interface BundleManifest {
  format: string;
  version: number;
  name: string;
  description: string;
  trained_on: string | null;
  untrained: boolean;
  precision: string;
  categories: BundleCategory[];
  has_text_tower: boolean;
  files: BundleFileEntry[];
  config: unknown;
}

const SAFE_FILE = /^[A-Za-z0-9_][A-Za-z0-9._-]*(\/[A-Za-z0-9_][A-Za-z0-9._-]*)*$/;

/** Parses and checks the parts of manifest.json the page relies on (the wasm module checks the rest). */
export function parseManifest(text: string): BundleManifest {
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch (e) {
    throw new Error(`manifest.json is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof m !== "object" || m === null || Array.isArray(m)) throw new Error("manifest.json is not a JSON object");
  const o = m as Record<string, unknown>;
  if (o.format !== BUNDLE_FORMAT) {
    throw new Error(`manifest.json has format ${JSON.stringify(o.format)}, not an ACD-CLIP bundle ("${BUNDLE_FORMAT}")`);
  }
  if (o.version !== BUNDLE_VERSION) {
    throw new Error(`manifest.json has bundle version ${JSON.stringify(o.version)}; this page reads version ${BUNDLE_VERSION} (re-export the bundle with this release's acd export, or use the matching page)`);
  }
  if (typeof o.name !== "string") throw new Error("manifest.json has no name");
  if (!Array.isArray(o.files) || o.files.length === 0) throw new Error("manifest.json lists no files");
  const seen = new Set<string>();
  const files = o.files.map((f, i): BundleFileEntry => {
    const e = f as Record<string, unknown>;
    const where = `manifest.json files[${i}]`;
    if (typeof e?.file !== "string" || !SAFE_FILE.test(e.file) || e.file.split("/").includes("..")) {
      throw new Error(`${where}: file name ${JSON.stringify(e?.file)} is not a plain relative path`);
    }
    if (seen.has(e.file)) throw new Error(`${where}: ${e.file} is listed twice`);
    seen.add(e.file);
    if (typeof e.bytes !== "number" || !Number.isSafeInteger(e.bytes) || e.bytes < 0) {
      throw new Error(`${where}: ${e.file} has no valid byte size`);
    }
    if (e.bytes > MAX_BUNDLE_FILE_BYTES) {
      throw new Error(`${where}: ${e.file} declares ${e.bytes} bytes, over the limit of ${MAX_BUNDLE_FILE_BYTES} bytes per file`);
    }
    if (typeof e.sha256 !== "string" || !/^[0-9a-fA-F]{64}$/.test(e.sha256)) {
      throw new Error(`${where}: ${e.file} has no valid sha256`);
    }
    return { file: e.file, bytes: e.bytes, sha256: e.sha256.toLowerCase() };
  });
  const categories = Array.isArray(o.categories)
    ? o.categories
        .filter((c): c is Record<string, unknown> => typeof c === "object" && c !== null && typeof (c as { key?: unknown }).key === "string")
        .map((c) => ({ key: c.key as string, real_name: typeof c.real_name === "string" ? c.real_name : (c.key as string) }))
    : [];
  return {
    format: o.format,
    version: BUNDLE_VERSION,
    name: o.name,
    description: typeof o.description === "string" ? o.description : "",
    trained_on: typeof o.trained_on === "string" ? o.trained_on : null,
    untrained: o.untrained === true,
    precision: typeof o.precision === "string" ? o.precision : "?",
    categories,
    has_text_tower: o.has_text_tower === true,
    files,
    config: o.config,
  };
}

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

#!/usr/bin/env node
// A small static server for www/ (no dependencies): correct MIME types, gzip/brotli when the
// client accepts it, ETag revalidation, and the page's security headers on every response.
//
//   node web/server/serve.mjs [ROOT=www] [PORT=8080]       (scripts/serve wraps this)
//
// PORT 0 picks a free port; the first line printed is `serving ROOT at http://127.0.0.1:PORT/`.
// Environment: ACD_SERVE_LOG=FILE appends one JSON line per request (used by the e2e tests to
// check that detection makes no request); ACD_SERVE_QUIET=1 silences the console log.
//
// Binds 127.0.0.1 only. Meant for development and tests; any static host works in production as
// long as it serves .wasm as application/wasm (the CSP is also in index.html as a <meta>).

import { createServer } from "node:http";
import { createReadStream, promises as fsp, appendFileSync } from "node:fs";
import { extname, join, resolve, sep } from "node:path";
import { pathToFileURL } from "node:url";
import zlib from "node:zlib";
import { promisify } from "node:util";

const brotli = promisify(zlib.brotliCompress);
const gzip = promisify(zlib.gzip);

/** The page's Content-Security-Policy (same text as the <meta> in web/index.html). */
export const CSP =
  "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self' blob:; " +
  "img-src 'self' blob: data:; connect-src 'self'; style-src 'self' 'unsafe-inline'";

export const SECURITY_HEADERS = {
  "Content-Security-Policy": CSP,
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "Cross-Origin-Resource-Policy": "same-origin",
};

/** Cross-origin isolation: what lets the page share memory between workers (SharedArrayBuffer), so
 * that the multi-threaded CPU module (www/pkg-threads) can run. Every resource is same-origin, so
 * requiring CORP costs nothing. */
export const ISOLATION_HEADERS = {
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Embedder-Policy": "require-corp",
};

const MIME = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".map": "application/json",
  ".webmanifest": "application/manifest+json",
  ".wasm": "application/wasm",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".gif": "image/gif",
  ".webp": "image/webp",
  ".bmp": "image/bmp",
  ".svg": "image/svg+xml",
  ".ico": "image/x-icon",
  ".txt": "text/plain; charset=utf-8",
  ".md": "text/markdown; charset=utf-8",
  ".ts": "text/plain; charset=utf-8",
  ".safetensors": "application/octet-stream",
  ".bin": "application/octet-stream",
  ".npy": "application/octet-stream",
};

/** MIME type for a file name. */
export function mimeFor(path) {
  return MIME[extname(path).toLowerCase()] ?? "application/octet-stream";
}

/** Worth compressing: text, JSON, JS, wasm, SVG. Not images or weight shards (int8 barely shrinks). */
export function compressible(mime) {
  return /^(text\/|application\/(json|wasm|manifest\+json)|image\/svg\+xml)/.test(mime);
}

/**
 * Picks the response encoding from an Accept-Encoding header: "br", "gzip" or null (identity).
 * Honours q-values (q=0 refuses); prefers br over gzip at equal q.
 */
export function negotiateEncoding(header) {
  if (!header) return null;
  const q = new Map();
  for (const part of String(header).split(",")) {
    const [name, ...params] = part.trim().toLowerCase().split(";");
    if (!name) continue;
    let weight = 1;
    for (const p of params) {
      const m = /^\s*q=([0-9.]+)\s*$/.exec(p);
      if (m) weight = Number(m[1]);
    }
    q.set(name, Number.isFinite(weight) ? weight : 0);
  }
  const star = q.get("*");
  const weightOf = (enc) => (q.has(enc) ? q.get(enc) : star ?? 0);
  const br = weightOf("br");
  const gz = weightOf("gzip");
  if (br > 0 && br >= gz) return "br";
  if (gz > 0) return "gzip";
  return null;
}

/** Cache-Control for a URL path: hashed build assets are immutable, everything else revalidates. */
export function cacheControlFor(urlPath) {
  if (/^\/assets\/.+-[A-Za-z0-9_-]{8,}\.[a-z0-9]+$/.test(urlPath)) return "public, max-age=31536000, immutable";
  return "no-cache";
}

/** Resolves a URL path inside root; null when it escapes root or names a dotfile. */
export function resolveInside(root, urlPath) {
  let decoded;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (decoded.includes("\0")) return null;
  const segments = decoded.split("/").filter((s) => s.length > 0);
  if (segments.some((s) => s === ".." || s.startsWith("."))) return null;
  const full = resolve(root, ...segments);
  if (full !== root && !full.startsWith(root + sep)) return null;
  return full;
}

/**
 * Creates the server (not listening yet). `isolated: false` leaves out the cross-origin isolation
 * headers, as a static host that cannot set headers would (the page then runs one CPU thread).
 * @param {{ root: string, log?: string, quiet?: boolean, isolated?: boolean }} options
 */
export function createStaticServer({ root, log, quiet = false, isolated = true }) {
  root = resolve(root);
  /** key "path|mtime|size|enc" -> Buffer; bounded by bytes. */
  const compressed = new Map();
  let compressedBytes = 0;
  const COMPRESSED_LIMIT = 256 * 1024 * 1024;

  async function compressedBody(file, stat, enc) {
    const key = `${file}|${stat.mtimeMs}|${stat.size}|${enc}`;
    const hit = compressed.get(key);
    if (hit) return hit;
    const raw = await fsp.readFile(file);
    const body =
      enc === "br"
        ? await brotli(raw, {
            params: {
              [zlib.constants.BROTLI_PARAM_QUALITY]: raw.length > 256 * 1024 ? 5 : 11,
              [zlib.constants.BROTLI_PARAM_SIZE_HINT]: raw.length,
            },
          })
        : await gzip(raw, { level: 6 });
    // Drop stale versions of the same file, then keep within the byte budget.
    for (const k of compressed.keys()) {
      if (k.startsWith(`${file}|`) && k !== key) {
        compressedBytes -= compressed.get(k).length;
        compressed.delete(k);
      }
    }
    while (compressedBytes + body.length > COMPRESSED_LIMIT && compressed.size > 0) {
      const [k, v] = compressed.entries().next().value;
      compressedBytes -= v.length;
      compressed.delete(k);
    }
    compressed.set(key, body);
    compressedBytes += body.length;
    return body;
  }

  function record(req, status, bytes, encoding, started) {
    const entry = {
      t: new Date().toISOString(),
      method: req.method,
      url: req.url,
      status,
      bytes,
      encoding: encoding ?? "identity",
      ms: Math.round(performance.now() - started),
    };
    if (log) {
      try {
        appendFileSync(log, JSON.stringify(entry) + "\n");
      } catch {
        /* logging must never break serving */
      }
    }
    if (!quiet) console.log(`${entry.status} ${entry.method} ${entry.url} ${bytes}B ${entry.encoding} ${entry.ms}ms`);
  }

  return createServer(async (req, res) => {
    const started = performance.now();
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
    if (isolated) for (const [k, v] of Object.entries(ISOLATION_HEADERS)) res.setHeader(k, v);
    const fail = (status, text, extra = {}) => {
      const body = Buffer.from(text + "\n");
      res.writeHead(status, { "Content-Type": "text/plain; charset=utf-8", "Content-Length": body.length, "Cache-Control": "no-store", ...extra });
      res.end(req.method === "HEAD" ? undefined : body);
      record(req, status, body.length, null, started);
    };
    try {
      if (req.method !== "GET" && req.method !== "HEAD") return fail(405, "method not allowed", { Allow: "GET, HEAD" });
      const url = new URL(req.url ?? "/", "http://127.0.0.1");
      let file = resolveInside(root, url.pathname);
      if (!file) return fail(404, "not found");
      let stat = await fsp.stat(file).catch(() => null);
      if (stat?.isDirectory()) {
        if (!url.pathname.endsWith("/")) return fail(301, "moved", { Location: url.pathname + "/" + url.search });
        file = join(file, "index.html");
        stat = await fsp.stat(file).catch(() => null);
      }
      if (!stat || !stat.isFile()) return fail(404, "not found");

      const mime = mimeFor(file);
      const etag = `W/"${stat.size.toString(16)}-${Math.floor(stat.mtimeMs).toString(16)}"`;
      const headers = {
        "Content-Type": mime,
        "Cache-Control": cacheControlFor(url.pathname),
        ETag: etag,
        "Last-Modified": stat.mtime.toUTCString(),
      };
      const enc = compressible(mime) && stat.size > 1024 ? negotiateEncoding(req.headers["accept-encoding"]) : null;
      if (compressible(mime)) headers.Vary = "Accept-Encoding";
      const inm = req.headers["if-none-match"];
      if (inm && inm.split(",").some((t) => t.trim() === etag || t.trim() === "*")) {
        res.writeHead(304, headers);
        res.end();
        record(req, 304, 0, null, started);
        return;
      }
      if (enc) {
        const body = await compressedBody(file, stat, enc);
        res.writeHead(200, { ...headers, "Content-Encoding": enc, "Content-Length": body.length });
        res.end(req.method === "HEAD" ? undefined : body);
        record(req, 200, body.length, enc, started);
        return;
      }
      res.writeHead(200, { ...headers, "Content-Length": stat.size });
      if (req.method === "HEAD") {
        res.end();
        record(req, 200, 0, null, started);
        return;
      }
      const stream = createReadStream(file);
      stream.on("error", () => res.destroy());
      stream.on("end", () => record(req, 200, stat.size, null, started));
      stream.pipe(res);
    } catch (e) {
      if (!res.headersSent) fail(500, "internal error");
      else res.destroy();
      if (!quiet) console.error(e);
    }
  });
}

/**
 * Starts serving; resolves to { server, port, url }.
 * @param {{ root?: string, port?: number, host?: string, log?: string, quiet?: boolean, isolated?: boolean }} [options]
 */
export async function serve({ root = "www", port = 8080, host = "127.0.0.1", log, quiet, isolated = true } = {}) {
  const server = createStaticServer({ root, log, quiet, isolated });
  await new Promise((ok, fail) => {
    server.once("error", fail);
    server.listen(port, host, ok);
  });
  const actual = server.address().port;
  return { server, port: actual, url: `http://${host}:${actual}/` };
}

const isMain = process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href;
if (isMain) {
  const root = resolve(process.argv[2] ?? "www");
  const port = Number(process.argv[3] ?? process.env.PORT ?? 8080);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`serve: bad port ${process.argv[3]}`);
    process.exit(2);
  }
  const stat = await fsp.stat(root).catch(() => null);
  if (!stat?.isDirectory()) {
    console.error(`serve: ${root} is not a directory (run scripts/build-web first)`);
    process.exit(2);
  }
  const { url } = await serve({
    root,
    port,
    log: process.env.ACD_SERVE_LOG || undefined,
    quiet: process.env.ACD_SERVE_QUIET === "1",
    isolated: process.env.ACD_SERVE_NOT_ISOLATED !== "1",
  });
  console.log(`serving ${root} at ${url}`);
  for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => process.exit(0));
}

import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { brotliDecompressSync, gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cacheControlFor, CSP, mimeFor, negotiateEncoding, resolveInside, serve } from "../server/serve.mjs";

describe("helpers", () => {
  it("maps MIME types", () => {
    expect(mimeFor("a/acd_wasm_bg.wasm")).toBe("application/wasm");
    expect(mimeFor("x.JS")).toBe("text/javascript; charset=utf-8");
    expect(mimeFor("manifest.json")).toBe("application/json");
    expect(mimeFor("s.png")).toBe("image/png");
    expect(mimeFor("w.safetensors")).toBe("application/octet-stream");
  });
  it("negotiates the encoding", () => {
    expect(negotiateEncoding(undefined)).toBeNull();
    expect(negotiateEncoding("gzip, deflate, br, zstd")).toBe("br");
    expect(negotiateEncoding("gzip")).toBe("gzip");
    expect(negotiateEncoding("br;q=0, gzip")).toBe("gzip");
    expect(negotiateEncoding("br;q=0.5, gzip;q=0.9")).toBe("gzip");
    expect(negotiateEncoding("*")).toBe("br");
    expect(negotiateEncoding("identity")).toBeNull();
  });
  it("caches hashed assets for long, revalidates the rest", () => {
    expect(cacheControlFor("/assets/index-gIsmy5k0.js")).toMatch(/immutable/);
    expect(cacheControlFor("/index.html")).toBe("no-cache");
    expect(cacheControlFor("/pkg/acd_wasm_bg.wasm")).toBe("no-cache");
  });
  it("keeps paths inside the root", () => {
    expect(resolveInside("/srv/www", "/a/b.js")).toBe("/srv/www/a/b.js");
    expect(resolveInside("/srv/www", "/../etc/passwd")).toBeNull();
    expect(resolveInside("/srv/www", "/%2e%2e/etc/passwd")).toBeNull();
    expect(resolveInside("/srv/www", "/.git/config")).toBeNull();
    expect(resolveInside("/srv/www", "/%E0%A4%A")).toBeNull();
  });
});

describe("the server", () => {
  let base = "";
  let server: { close(): void };
  const big = "console.log('hello');\n".repeat(500);
  beforeAll(async () => {
    const root = mkdtempSync(join(tmpdir(), "acd-serve-"));
    mkdirSync(join(root, "pkg"));
    writeFileSync(join(root, "index.html"), "<!doctype html><title>t</title>");
    writeFileSync(join(root, "pkg", "app.js"), big);
    writeFileSync(join(root, "pkg", "m.wasm"), Buffer.alloc(4096, 1));
    const s = await serve({ root, port: 0, quiet: true });
    server = s.server;
    base = s.url;
  });
  afterAll(() => server.close());

  const get = (path: string, headers: Record<string, string> = {}) =>
    new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }>((ok, fail) => {
      const req = request(new URL(path, base), { headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => ok({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      });
      req.on("error", fail);
      req.end();
    });

  it("serves index.html for / with the CSP and security headers", async () => {
    const r = await get("/");
    expect(r.status).toBe(200);
    expect(r.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(r.headers["content-security-policy"]).toBe(CSP);
    expect(r.headers["x-content-type-options"]).toBe("nosniff");
    expect(r.headers["cache-control"]).toBe("no-cache");
  });
  it("compresses with brotli or gzip when asked", async () => {
    const br = await get("/pkg/app.js", { "accept-encoding": "gzip, br" });
    expect(br.headers["content-encoding"]).toBe("br");
    expect(br.headers.vary).toBe("Accept-Encoding");
    expect(brotliDecompressSync(br.body).toString()).toBe(big);
    const gz = await get("/pkg/app.js", { "accept-encoding": "gzip" });
    expect(gz.headers["content-encoding"]).toBe("gzip");
    expect(gunzipSync(gz.body).toString()).toBe(big);
    const plain = await get("/pkg/app.js");
    expect(plain.headers["content-encoding"]).toBeUndefined();
    expect(plain.body.toString()).toBe(big);
  });
  it("serves wasm as application/wasm and answers 304 to a matching ETag", async () => {
    const r = await get("/pkg/m.wasm");
    expect(r.headers["content-type"]).toBe("application/wasm");
    const etag = r.headers.etag as string;
    const again = await get("/pkg/m.wasm", { "if-none-match": etag });
    expect(again.status).toBe(304);
    expect(again.headers["content-security-policy"]).toBe(CSP);
  });
  it("404s missing files and traversal, with the CSP", async () => {
    for (const p of ["/nope.js", "/../package.json", "/%2e%2e/%2e%2e/etc/passwd"]) {
      const r = await get(p);
      expect(r.status).toBe(404);
      expect(r.headers["content-security-policy"]).toBe(CSP);
    }
  });
  it("redirects a folder without its slash", async () => {
    const r = await get("/pkg");
    expect(r.status).toBe(301);
    expect(r.headers.location).toBe("/pkg/");
  });
});

describe("index.html", () => {
  it("carries the same CSP as a <meta>", async () => {
    const { readFileSync } = await import("node:fs");
    const html = readFileSync(new URL("../index.html", import.meta.url), "utf8");
    const m = /http-equiv="Content-Security-Policy"\s+content="([^"]+)"/.exec(html);
    expect(m?.[1]).toBe(CSP);
  });
});

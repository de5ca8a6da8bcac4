// Service worker of the ACD-CLIP page: keeps the page, its assets, the wasm runtime and the
// samples so the page opens offline. Network first (so a new build shows at once when online;
// the server answers 304s cheaply), the cache when the network fails. The model weights are not
// handled here: the model worker keeps them in its own versioned Cache API store.
// It also adds the cross-origin isolation headers (COOP/COEP) to what it serves when the host left
// them out, so the page can share memory between the CPU path's threads on any static host
// (web/src/isolation.ts reloads the page once to come under its control).
// Built by vite.config.ts, which fills in PRECACHE, VERSION and ISOLATION_HEADERS.

const VERSION = "__VERSION__";
const PRECACHE = __PRECACHE__;
const CACHE = `acd-shell-${VERSION}`;
// web/server/serve.mjs's ISOLATION_HEADERS, filled in by vite.config.ts.
const ISOLATION_HEADERS = __ISOLATION_HEADERS__;

self.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      // One by one: a missing optional file (e.g. pkg/ before build-wasm) must not fail the install.
      await Promise.all(
        PRECACHE.map((path) =>
          fetch(new Request(new URL(path, self.registration.scope), { cache: "no-cache" }))
            .then((res) => (res.ok ? cache.put(new URL(path, self.registration.scope), res) : undefined))
            .catch(() => undefined),
        ),
      );
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name.startsWith("acd-shell-") && name !== CACHE) await caches.delete(name);
      }
      await self.clients.claim();
    })(),
  );
});

self.addEventListener("fetch", (event) => {
  const req = event.request;
  if (req.method !== "GET") return;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin) return;
  const scope = new URL(self.registration.scope);
  const rel = url.pathname.startsWith(scope.pathname) ? url.pathname.slice(scope.pathname.length) : url.pathname;
  if (rel.startsWith("models/")) return; // weights: the model worker's Cache API store
  event.respondWith(networkFirst(req, url, rel));
});

async function networkFirst(req, url, rel) {
  const cache = await caches.open(CACHE);
  // Pages are cached without their query (?model=…, ?backend=…).
  const isPage = req.mode === "navigate" || rel === "" || rel === "index.html";
  const key = isPage ? new URL(rel === "" ? "./" : rel, self.registration.scope).href : url.href;
  try {
    const res = await fetch(req);
    if (res.ok && res.type === "basic" && res.status === 200) await cache.put(key, res.clone()).catch(() => undefined);
    return withIsolation(res);
  } catch (err) {
    const hit = (await cache.match(key)) ?? (isPage ? await cache.match(new URL("./", self.registration.scope).href) : undefined);
    if (hit) return withIsolation(hit);
    throw err;
  }
}

/** The response with COOP/COEP added, unless the host sent its own (or it cannot be rebuilt). */
function withIsolation(res) {
  if (res.type !== "basic" && res.type !== "default") return res;
  if (res.status < 200 || res.headers.has("Cross-Origin-Embedder-Policy")) return res;
  const headers = new Headers(res.headers);
  for (const [name, value] of Object.entries(ISOLATION_HEADERS)) headers.set(name, value);
  const noBody = res.status === 204 || res.status === 205 || res.status === 304;
  return new Response(noBody ? null : res.body, { status: res.status, statusText: res.statusText, headers });
}

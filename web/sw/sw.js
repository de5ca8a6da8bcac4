// Service worker of the ACD-CLIP page: keeps the page, its assets, the wasm runtime and the
// samples so the page opens offline. Network first (so a new build shows at once when online;
// the server answers 304s cheaply), the cache when the network fails. The model weights are not
// handled here: the model worker keeps them in its own versioned Cache API store.
// Built by vite.config.ts, which fills in PRECACHE and VERSION.

const VERSION = "__VERSION__";
const PRECACHE = __PRECACHE__;
const CACHE = `acd-shell-${VERSION}`;

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
    return res;
  } catch (err) {
    const hit = (await cache.match(key)) ?? (isPage ? await cache.match(new URL("./", self.registration.scope).href) : undefined);
    if (hit) return hit;
    throw err;
  }
}

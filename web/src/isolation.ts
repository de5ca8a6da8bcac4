// Cross-origin isolation on a host that sends no COOP/COEP headers (a static host: GitHub Pages,
// a plain file server). The page's service worker (web/sw/sw.js) adds both headers to every
// same-origin response it serves, so once the page is under its control it is isolated and the
// CPU path can share memory between its threads. The first visit is not yet under its control:
// the page waits for the worker to take it over and reloads once (what coi-serviceworker does).
// A flag in sessionStorage keeps that to one reload per tab, so a browser that still refuses
// isolation gets the single-threaded module, not a reload loop.

/** sessionStorage key set just before the one reload. */
export const RELOAD_FLAG = "acd-isolation-reload";

/** How long the page waits for a newly registered service worker before it goes on without it. */
export const TAKEOVER_TIMEOUT_MS = 10_000;

export interface IsolationScope {
  crossOriginIsolated?: boolean;
  isSecureContext?: boolean;
  /** The page may use its service worker (the browser has them and ?sw=0 is not set). */
  serviceWorkerAllowed: boolean;
  /** A service worker controls this page now. */
  controlled: boolean;
  storage: Pick<Storage, "getItem" | "setItem" | "removeItem"> | null;
}

/**
 * - `isolated`: nothing to do;
 * - `reload-now`: a service worker controls the page, but this document came without the headers
 *   (an older worker, or a hard reload that bypassed it): reload once;
 * - `reload-after-takeover`: no worker controls the page yet: reload once it does;
 * - `stay`: isolation is out of reach here (`reason` says why); the CPU path runs one thread.
 */
export type IsolationPlan =
  | { plan: "isolated" }
  | { plan: "reload-now" }
  | { plan: "reload-after-takeover" }
  | { plan: "stay"; reason: string };

export function planIsolation(scope: IsolationScope): IsolationPlan {
  if (scope.crossOriginIsolated) {
    scope.storage?.removeItem(RELOAD_FLAG);
    return { plan: "isolated" };
  }
  if (!scope.serviceWorkerAllowed) return { plan: "stay", reason: "no service worker to add the headers" };
  if (scope.isSecureContext === false) return { plan: "stay", reason: "not a secure context (https or localhost)" };
  if (!scope.storage) return { plan: "stay", reason: "no sessionStorage to guard the reload" };
  if (scope.storage.getItem(RELOAD_FLAG) !== null) {
    return { plan: "stay", reason: "the service worker's headers did not make it isolated" };
  }
  return scope.controlled ? { plan: "reload-now" } : { plan: "reload-after-takeover" };
}

/**
 * Carries out the plan in a page: true when the page is about to reload (start nothing), false to
 * go on. `register` registers the service worker; it is awaited before waiting for the takeover.
 */
export async function isolateWithServiceWorker(
  scope: IsolationScope,
  register: () => Promise<unknown>,
  events: {
    onControllerChange: (listener: () => void) => void;
    reload: () => void;
    timeout?: number;
  },
): Promise<boolean> {
  const p = planIsolation(scope);
  if (p.plan === "isolated" || p.plan === "stay") return false;
  const reload = () => {
    scope.storage?.setItem(RELOAD_FLAG, "1");
    events.reload();
  };
  if (p.plan === "reload-now") {
    reload();
    return true;
  }
  const takenOver = new Promise<boolean>((resolve) => {
    events.onControllerChange(() => resolve(true));
    setTimeout(() => resolve(false), events.timeout ?? TAKEOVER_TIMEOUT_MS);
  });
  try {
    await register();
  } catch {
    return false;
  }
  if (!(await takenOver)) return false;
  reload();
  return true;
}

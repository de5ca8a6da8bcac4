import { describe, expect, it, vi } from "vitest";
import { isolateWithServiceWorker, planIsolation, RELOAD_FLAG, type IsolationScope } from "../src/isolation";

function memoryStorage(init: Record<string, string> = {}) {
  const m = new Map(Object.entries(init));
  return {
    getItem: (k: string) => m.get(k) ?? null,
    setItem: (k: string, v: string) => void m.set(k, v),
    removeItem: (k: string) => void m.delete(k),
    has: (k: string) => m.has(k),
  };
}

function scope(over: Partial<IsolationScope> = {}): IsolationScope {
  return {
    crossOriginIsolated: false,
    isSecureContext: true,
    serviceWorkerAllowed: true,
    controlled: false,
    storage: memoryStorage(),
    ...over,
  };
}

describe("planIsolation", () => {
  it("does nothing on an isolated page, and clears the reload flag there", () => {
    const storage = memoryStorage({ [RELOAD_FLAG]: "1" });
    expect(planIsolation(scope({ crossOriginIsolated: true, storage }))).toEqual({ plan: "isolated" });
    expect(storage.has(RELOAD_FLAG)).toBe(false);
  });

  it("reloads once a service worker controls a page that came without the headers", () => {
    expect(planIsolation(scope({ controlled: true }))).toEqual({ plan: "reload-now" });
    expect(planIsolation(scope({ controlled: false }))).toEqual({ plan: "reload-after-takeover" });
  });

  it("never reloads twice in a tab: after the one reload it stays, and says why", () => {
    const p = planIsolation(scope({ controlled: true, storage: memoryStorage({ [RELOAD_FLAG]: "1" }) }));
    expect(p).toEqual({ plan: "stay", reason: expect.stringMatching(/did not make it isolated/) });
  });

  it("stays without a service worker, a secure context or sessionStorage", () => {
    expect(planIsolation(scope({ serviceWorkerAllowed: false })).plan).toBe("stay");
    expect(planIsolation(scope({ isSecureContext: false })).plan).toBe("stay");
    expect(planIsolation(scope({ storage: null })).plan).toBe("stay");
  });
});

describe("isolateWithServiceWorker", () => {
  it("registers, waits for the takeover, sets the flag and reloads", async () => {
    const storage = memoryStorage();
    let change: () => void = () => undefined;
    const reload = vi.fn();
    const register = vi.fn(async () => {
      setTimeout(() => change(), 5);
    });
    const reloading = await isolateWithServiceWorker(scope({ storage }), register, {
      onControllerChange: (l) => (change = l),
      reload,
      timeout: 1000,
    });
    expect(reloading).toBe(true);
    expect(register).toHaveBeenCalledOnce();
    expect(reload).toHaveBeenCalledOnce();
    expect(storage.has(RELOAD_FLAG)).toBe(true);
  });

  it("goes on without reloading when the worker never takes over, or fails to register", async () => {
    const reload = vi.fn();
    const quiet = { onControllerChange: () => undefined, reload, timeout: 20 };
    expect(await isolateWithServiceWorker(scope(), async () => undefined, quiet)).toBe(false);
    expect(await isolateWithServiceWorker(scope(), () => Promise.reject(new Error("blocked")), quiet)).toBe(false);
    expect(reload).not.toHaveBeenCalled();
  });

  it("starts at once on an isolated page (no registration, no reload)", async () => {
    const register = vi.fn(async () => undefined);
    const reload = vi.fn();
    const r = await isolateWithServiceWorker(scope({ crossOriginIsolated: true }), register, {
      onControllerChange: () => undefined,
      reload,
    });
    expect(r).toBe(false);
    expect(register).not.toHaveBeenCalled();
    expect(reload).not.toHaveBeenCalled();
  });
});

// Shared pieces of the browser tests: launching Debian's Chromium, reading the page's state
// (window.__acd), feeding images, reading canvas pixels and the server's request log.
import { mkdtempSync, readFileSync, existsSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import type { ReadyMsg } from "../src/protocol";

/** Flags: see docs/architecture.md §6.4 (no network side traffic; WebGPU on SwiftShader). */
export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-default-apps",
  "--disable-features=Translate,OptimizationHints,MediaRouter",
];

export const CHROMIUM = process.env.ACD_CHROMIUM || "/usr/bin/chromium";

export interface LogEntry {
  method: string;
  url: string;
  status: number;
  bytes: number;
}

export function readLog(path: string): LogEntry[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as LogEntry);
}

/** Chromium occasionally dies while starting up on a loaded CI machine ("Target page, context or browser has
 * been closed" before any page exists). That says nothing about the page under test, so a failed launch is
 * retried with a fresh profile, twice at most, and the retry is logged; failures after launch are not retried. */
async function launchWithRetry(opts: {
  webgpu: boolean;
  viewport?: { width: number; height: number };
}): Promise<{ ctx: BrowserContext; dir: string }> {
  const attempts = 3;
  for (let attempt = 1; ; attempt++) {
    const dir = mkdtempSync(join(tmpdir(), "acd-pw-"));
    try {
      const ctx = await chromium.launchPersistentContext(dir, {
        headless: true,
        executablePath: CHROMIUM,
        args: [...CHROMIUM_ARGS, ...(opts.webgpu ? ["--enable-unsafe-webgpu"] : [])],
        viewport: opts.viewport ?? { width: 1280, height: 900 },
        serviceWorkers: "allow",
      });
      return { ctx, dir };
    } catch (e) {
      rmSync(dir, { recursive: true, force: true });
      if (attempt >= attempts) throw e;
      console.warn(`chromium failed to start (attempt ${attempt} of ${attempts}), retrying: ${String(e).split("\n")[0]}`);
    }
  }
}

export class Session {
  /** every request the browser made (page, workers, service worker), in order */
  readonly requests: string[] = [];
  readonly consoleErrors: string[] = [];
  private dir: string;

  private constructor(
    readonly ctx: BrowserContext,
    readonly page: Page,
    dir: string,
  ) {
    this.dir = dir;
  }

  static async open(opts: { webgpu: boolean; viewport?: { width: number; height: number } }): Promise<Session> {
    const { ctx, dir } = await launchWithRetry(opts);
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    const s = new Session(ctx, page, dir);
    ctx.on("request", (r) => s.requests.push(r.url()));
    ctx.on("serviceworker", (w) => w.on("console", () => undefined));
    page.on("console", (m) => {
      if (m.type() === "error") s.consoleErrors.push(m.text());
    });
    page.on("pageerror", (e) => s.consoleErrors.push(`pageerror: ${e.message}`));
    // CSP violations anywhere in the page are collected for the privacy test.
    await ctx.addInitScript(() => {
      (window as unknown as { __csp: string[] }).__csp = [];
      document.addEventListener("securitypolicyviolation", (e) => {
        (window as unknown as { __csp: string[] }).__csp.push(`${e.violatedDirective} ${e.blockedURI}`);
      });
    });
    return s;
  }

  async close(): Promise<void> {
    await this.ctx.close();
    rmSync(this.dir, { recursive: true, force: true });
  }

  async goto(url: string): Promise<void> {
    await this.page.goto(url);
  }

  /** Waits for the model (ready or failed); returns the ready message. */
  async waitReady(timeout = 240_000): Promise<ReadyMsg> {
    await this.page.waitForFunction(() => {
      const a = (window as any).__acd;
      return a && (a.state === "ready" || a.state === "failed");
    }, null, { timeout, polling: 100 });
    const r = await this.page.evaluate(() => ({ state: (window as any).__acd.state, ready: (window as any).__acd.ready, err: (window as any).__acd.lastError }));
    if (r.state !== "ready") throw new Error(`the model did not load: ${r.err}`);
    return r.ready as ReadyMsg;
  }

  private async counts(): Promise<{ detections: number; errors: number }> {
    return this.page.evaluate(() => ({ detections: (window as any).__acd.detections, errors: (window as any).__acd.errors.length }));
  }

  /** Runs `act` and waits for the next result or error. */
  async expectOutcome(act: () => Promise<void>, timeout = 240_000): Promise<{ ok: boolean; error: string | null }> {
    await this.idle(timeout);
    const before = await this.counts();
    await act();
    await this.page.waitForFunction(
      (b) => {
        const a = (window as any).__acd;
        return a.detections > b.detections || (a.errors.length > b.errors && document.body.dataset.state !== "busy");
      },
      before,
      { timeout, polling: 50 },
    );
    return this.page.evaluate((b) => {
      const a = (window as any).__acd;
      return a.detections > b.detections ? { ok: true, error: null } : { ok: false, error: a.lastError as string };
    }, before);
  }

  /** Waits until no detection is in flight (e.g. one started by a category change). */
  async idle(timeout = 240_000): Promise<void> {
    await this.page.waitForFunction(() => !(window as any).__acd.pending, null, { timeout, polling: 50 });
  }

  async chooseFile(name: string, buffer: Buffer, mimeType = "image/png") {
    return this.expectOutcome(() => this.page.setInputFiles("#file", { name, mimeType, buffer }));
  }

  async clickSample(file: string) {
    return this.expectOutcome(() => this.page.click(`button[data-sample="${file}"]`));
  }

  /** Lets the page draw (two animation frames). */
  async frames(): Promise<void> {
    await this.page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  }

  async setSlider(id: "opacity" | "threshold", value: number): Promise<void> {
    await this.page.locator(`#${id}`).fill(String(value));
    await this.frames();
  }

  /** RGBA of canvas pixels at (x, y) positions. */
  async pixels(points: [number, number][]): Promise<number[][]> {
    return this.page.evaluate((pts) => {
      const c = document.getElementById("view") as HTMLCanvasElement;
      const ctx = c.getContext("2d")!;
      return pts.map(([x, y]) => Array.from(ctx.getImageData(x, y, 1, 1).data));
    }, points);
  }

  /** Number of pure-white opaque pixels on the canvas (the outline's colour). */
  async whitePixels(): Promise<number> {
    return this.page.evaluate(() => {
      const c = document.getElementById("view") as HTMLCanvasElement;
      const d = c.getContext("2d")!.getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i] === 255 && d[i + 1] === 255 && d[i + 2] === 255 && d[i + 3] === 255) n++;
      return n;
    });
  }

  /** The last detection's numbers (map statistics, argmax position). */
  async lastStats() {
    return this.page.evaluate(() => {
      const l = (window as any).__acd.last;
      const m: Float32Array = l.map;
      let max = -Infinity;
      let min = Infinity;
      let arg = 0;
      for (let i = 0; i < m.length; i++) {
        if (m[i] > max) {
          max = m[i];
          arg = i;
        }
        if (m[i] < min) min = m[i];
      }
      const sorted = Float32Array.from(m).sort();
      return {
        name: l.name as string,
        score: l.score as number,
        width: l.width as number,
        height: l.height as number,
        min,
        max,
        median: sorted[Math.floor(sorted.length / 2)],
        argmax: [arg % l.width, Math.floor(arg / l.width)] as [number, number],
        nGroups: l.detection.groupMaps.length as number,
        grid: l.detection.grid as number,
        totalMs: l.totalMs as number,
        timings: l.detection.timings,
      };
    });
  }

  async mapValues(points: [number, number][]): Promise<number[]> {
    return this.page.evaluate((pts) => {
      const l = (window as any).__acd.last;
      return pts.map(([x, y]) => l.map[y * l.width + x] as number);
    }, points);
  }

  async fullMap(): Promise<Float32Array> {
    const arr = await this.page.evaluate(() => Array.from((window as any).__acd.last.map as Float32Array));
    return Float32Array.from(arr);
  }

  async cspViolations(): Promise<string[]> {
    return this.page.evaluate(() => (window as any).__csp ?? []);
  }
}

export function origin(url: string): string {
  return new URL(url).origin;
}

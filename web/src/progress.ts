// Download progress of a bundle: bytes per file against the manifest's sizes.

export interface ProgressFile {
  file: string;
  bytes: number;
}

export interface ProgressSnapshot {
  loaded: number;
  total: number;
  fromCache: number;
  filesDone: number;
  filesTotal: number;
  percent: number;
}

export class DownloadProgress {
  private readonly expected = new Map<string, number>();
  private readonly loadedBy = new Map<string, number>();
  private readonly cached = new Set<string>();
  private readonly done = new Set<string>();
  readonly total: number;

  constructor(files: ProgressFile[]) {
    let total = 0;
    for (const f of files) {
      const b = Math.max(0, f.bytes);
      this.expected.set(f.file, b);
      this.loadedBy.set(f.file, 0);
      total += b;
    }
    this.total = total;
  }

  private check(file: string): number {
    const e = this.expected.get(file);
    if (e === undefined) throw new Error(`progress: ${file} is not in the manifest`);
    return e;
  }

  /** Sets the bytes received so far for a file (never more than its expected size). */
  update(file: string, received: number): void {
    const e = this.check(file);
    this.loadedBy.set(file, Math.min(e, Math.max(0, received)));
  }

  /** The file came whole from the cache. */
  markCached(file: string): void {
    this.loadedBy.set(file, this.check(file));
    this.cached.add(file);
    this.done.add(file);
  }

  /** The file was downloaded and verified. */
  markDone(file: string): void {
    this.loadedBy.set(file, this.check(file));
    this.cached.delete(file);
    this.done.add(file);
  }

  /** The file is fetched again (failed check): its bytes count from zero. */
  reset(file: string): void {
    this.check(file);
    this.loadedBy.set(file, 0);
    this.cached.delete(file);
    this.done.delete(file);
  }

  snapshot(): ProgressSnapshot {
    let loaded = 0;
    let fromCache = 0;
    for (const [f, b] of this.loadedBy) {
      loaded += b;
      if (this.cached.has(f)) fromCache += b;
    }
    return {
      loaded,
      total: this.total,
      fromCache,
      filesDone: this.done.size,
      filesTotal: this.expected.size,
      percent: percentOf(loaded, this.total),
    };
  }
}

/** Whole percent in [0, 100]; an empty total is complete. */
export function percentOf(loaded: number, total: number): number {
  if (!(total > 0)) return 100;
  return Math.max(0, Math.min(100, Math.floor((loaded / total) * 100)));
}

/** "0 B", "812 B", "1.5 kB", "12.3 MB", "1.02 GB" (decimal units, like the network panel). */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return "? B";
  if (n < 1000) return `${Math.round(n)} B`;
  const units = ["kB", "MB", "GB", "TB"];
  let v = n;
  let i = -1;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  const digits = v >= 100 ? 0 : v >= 10 ? 1 : 2;
  return `${v.toFixed(digits)} ${units[i]}`;
}

/** "12.3 MB / 45.6 MB (27%)" */
export function formatProgress(loaded: number, total: number): string {
  return `${formatBytes(loaded)} / ${formatBytes(total)} (${percentOf(loaded, total)}%)`;
}

/** Calls fn at most every `ms` milliseconds, plus always when `force` is set. */
export function throttle(ms: number, now: () => number = () => performance.now()) {
  let last = -Infinity;
  return (fn: () => void, force = false): void => {
    const t = now();
    if (force || t - last >= ms) {
      last = t;
      fn();
    }
  };
}

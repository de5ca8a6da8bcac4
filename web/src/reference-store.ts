// The page's reference memories ("show it what normal looks like"), kept in this browser only
// (IndexedDB, never uploaded). One record per bundle identity and category:
//   bundle identity = manifest name + SHA-256 of the bundle's first file (manifest order), so a
//   changed bundle never gets a memory built for another one;
//   value = the serialized memory (AcdModel.buildReference's bytes), its image count and date.
// On model load the page restores every record of the loaded bundle (AcdModel.setReference) and
// drops one that the model refuses. Records of other versions of the same bundle name are useless
// (their bundle changed) and are deleted then.

export const REFERENCE_DB = "acd-references";
export const REFERENCE_DB_VERSION = 1;
export const REFERENCE_STORE = "memories";

export interface BundleIdentity {
  /** manifest name */
  name: string;
  /** SHA-256 (hex) of the bundle's first file in manifest order */
  sha256: string;
}

export interface StoredReference {
  /** bundleKey() of the bundle the memory was built with */
  bundle: string;
  /** manifest name, to find records of other versions of the same bundle */
  name: string;
  category: string;
  /** the serialized memory */
  memory: ArrayBuffer;
  /** normal images it was built from */
  images: number;
  /** when it was built (ms since the epoch) */
  created: number;
}

/** The bundle part of a record's key: "<name>@sha256:<hex>". */
export function bundleKey(b: BundleIdentity): string {
  return `${b.name}@sha256:${b.sha256.toLowerCase()}`;
}

/** The IndexedDB key of a record (the store's keyPath is ["bundle", "category"]). */
export function referenceKey(b: BundleIdentity, category: string): [string, string] {
  return [bundleKey(b), category];
}

export function makeRecord(b: BundleIdentity, category: string, memory: ArrayBuffer, images: number, created = Date.now()): StoredReference {
  return { bundle: bundleKey(b), name: b.name, category, memory, images, created };
}

/** What is wrong with a record read back from storage, or null when it is usable. */
export function checkRecord(x: unknown): string | null {
  if (typeof x !== "object" || x === null) return "not an object";
  const r = x as Record<string, unknown>;
  if (typeof r.bundle !== "string" || typeof r.name !== "string" || typeof r.category !== "string") return "no bundle, name or category";
  if (!(r.memory instanceof ArrayBuffer) || r.memory.byteLength === 0) return "no memory bytes";
  if (typeof r.images !== "number" || !Number.isInteger(r.images) || r.images < 1) return "no image count";
  if (typeof r.created !== "number" || !Number.isFinite(r.created)) return "no date";
  return null;
}

/** Records of the same bundle name whose identity is not `b` (built for another version of it). */
export function isStaleVersion(r: Pick<StoredReference, "bundle" | "name">, b: BundleIdentity): boolean {
  return r.name === b.name && r.bundle !== bundleKey(b);
}

function done<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error("IndexedDB request failed"));
  });
}

function finished(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error ?? new Error("IndexedDB transaction failed"));
    tx.onabort = () => reject(tx.error ?? new Error("IndexedDB transaction aborted"));
  });
}

export class ReferenceStore {
  private constructor(private readonly db: IDBDatabase) {}

  /** Opens (creating) the database; rejects where IndexedDB is unavailable or refused. */
  static open(factory: IDBFactory | undefined = globalThis.indexedDB, name = REFERENCE_DB): Promise<ReferenceStore> {
    if (!factory) return Promise.reject(new Error("IndexedDB is not available in this browser"));
    return new Promise((resolve, reject) => {
      let req: IDBOpenDBRequest;
      try {
        req = factory.open(name, REFERENCE_DB_VERSION);
      } catch (e) {
        reject(e);
        return;
      }
      req.onupgradeneeded = () => {
        const db = req.result;
        if (!db.objectStoreNames.contains(REFERENCE_STORE)) {
          const store = db.createObjectStore(REFERENCE_STORE, { keyPath: ["bundle", "category"] });
          store.createIndex("bundle", "bundle", { unique: false });
        }
      };
      req.onsuccess = () => resolve(new ReferenceStore(req.result));
      req.onerror = () => reject(req.error ?? new Error("IndexedDB could not be opened"));
      req.onblocked = () => reject(new Error("IndexedDB is blocked by another tab of this page"));
    });
  }

  close(): void {
    this.db.close();
  }

  /** Every record of this bundle (usable or not: check them with checkRecord). */
  async list(b: BundleIdentity): Promise<unknown[]> {
    const tx = this.db.transaction(REFERENCE_STORE, "readonly");
    return done(tx.objectStore(REFERENCE_STORE).index("bundle").getAll(bundleKey(b)));
  }

  async get(b: BundleIdentity, category: string): Promise<unknown> {
    const tx = this.db.transaction(REFERENCE_STORE, "readonly");
    return done(tx.objectStore(REFERENCE_STORE).get(referenceKey(b, category)));
  }

  /** Adds or replaces the record of its bundle and category. */
  async put(r: StoredReference): Promise<void> {
    const tx = this.db.transaction(REFERENCE_STORE, "readwrite");
    const fin = finished(tx);
    tx.objectStore(REFERENCE_STORE).put(r);
    await fin;
  }

  async delete(b: BundleIdentity, category: string): Promise<void> {
    const tx = this.db.transaction(REFERENCE_STORE, "readwrite");
    const fin = finished(tx);
    tx.objectStore(REFERENCE_STORE).delete(referenceKey(b, category));
    await fin;
  }

  /** Deletes the records of other versions of this bundle name; returns how many. */
  async pruneStale(b: BundleIdentity): Promise<number> {
    const tx = this.db.transaction(REFERENCE_STORE, "readwrite");
    const store = tx.objectStore(REFERENCE_STORE);
    const fin = finished(tx);
    let n = 0;
    await new Promise<void>((resolve, reject) => {
      const req = store.openCursor();
      req.onerror = () => reject(req.error ?? new Error("IndexedDB cursor failed"));
      req.onsuccess = () => {
        const cur = req.result;
        if (!cur) return resolve();
        const v = cur.value as Partial<StoredReference>;
        if (typeof v?.bundle === "string" && typeof v.name === "string" && isStaleVersion(v as StoredReference, b)) {
          cur.delete();
          n++;
        }
        cur.continue();
      };
    });
    await fin;
    return n;
  }
}

// The page's side of the worker protocol: starts the worker, forwards detect and reference-memory
// requests, and restarts the worker when it cannot go on (a wasm trap), on the CPU when WebGPU was
// the cause. A restarted worker has lost the page's memories: the page restores them on `ready`.

import {
  errorMessage,
  isWorkerToPage,
  type BackendRequest,
  type ConfirmDownloadMsg,
  type ErrorMsg,
  type NoticeMsg,
  type ProgressMsg,
  type ReadyMsg,
  type ReferenceInfo,
  type ReferenceMsg,
  type ReferenceRequest,
  type ResultMsg,
  type WorkerToPage,
} from "./protocol";

export interface WorkerLike {
  postMessage(message: unknown, transfer?: Transferable[]): void;
  terminate(): void;
  onmessage: ((ev: MessageEvent) => void) | null;
  onerror: ((ev: ErrorEvent | Event) => void) | null;
  onmessageerror?: ((ev: MessageEvent) => void) | null;
}

export interface ClientOptions {
  modelUrl: string;
  pkgUrl: string;
  /** The multi-threaded CPU module, tried where the page is cross-origin isolated. */
  pkgThreadsUrl?: string;
  backend: BackendRequest;
  /** Run the model in f16 on WebGPU where the adapter can (`?precision=f16`). */
  gpuF16?: boolean;
  /** Ask before downloading more than this many bytes (the confirmDownload event); absent: never. */
  confirmAboveBytes?: number;
}

export interface ClientEvents {
  progress(m: ProgressMsg): void;
  notice(m: NoticeMsg): void;
  ready(m: ReadyMsg): void;
  loadError(message: string): void;
  result(m: ResultMsg): void;
  detectError(id: number, message: string): void;
  /** the worker is being replaced (why); a new load follows */
  restart(reason: string): void;
  /** A large download waits for decideDownload(); without this handler it goes ahead. */
  confirmDownload?(m: ConfirmDownloadMsg): void;
}

export const MAX_RESTARTS = 2;

export class ModelClient {
  private worker: WorkerLike | null = null;
  private nextId = 1;
  private restarts = 0;
  private ready = false;
  /** The user agreed to download this bundle once: a restarted worker does not ask again. */
  private downloadAgreed = false;
  /** detect ids sent to the current worker and not answered yet */
  private readonly inFlight = new Set<number>();
  /** reference requests sent to the current worker and not answered yet */
  private readonly refRequests = new Map<number, { resolve: (m: ReferenceMsg) => void; reject: (e: Error) => void }>();

  constructor(
    private readonly options: ClientOptions,
    private readonly events: ClientEvents,
    private readonly makeWorker: () => WorkerLike,
  ) {}

  get isReady(): boolean {
    return this.ready;
  }

  start(backend: BackendRequest = this.options.backend, fallbackReason?: string): void {
    this.ready = false;
    const w = this.makeWorker();
    this.worker = w;
    w.onmessage = (ev) => this.handle(w, ev.data);
    w.onerror = (ev) => {
      if (w !== this.worker) return;
      const msg = (ev as ErrorEvent).message || "the model worker failed to start";
      this.fail(msg);
    };
    w.onmessageerror = () => {
      if (w === this.worker) this.events.loadError("a message from the model worker could not be read");
    };
    const { modelUrl, pkgUrl, pkgThreadsUrl, confirmAboveBytes, gpuF16 } = this.options;
    const ask = confirmAboveBytes !== undefined && !this.downloadAgreed && this.events.confirmDownload !== undefined;
    w.postMessage({
      type: "load",
      modelUrl,
      pkgUrl,
      ...(pkgThreadsUrl ? { pkgThreadsUrl } : {}),
      backend,
      ...(gpuF16 ? { gpuF16 } : {}),
      ...(fallbackReason ? { fallbackReason } : {}),
      ...(ask ? { confirmAboveBytes } : {}),
    });
  }

  /** The answer to a confirmDownload: go ahead, or stop loading (a load error DOWNLOAD_DECLINED). */
  decideDownload(proceed: boolean): void {
    if (proceed) this.downloadAgreed = true;
    this.worker?.postMessage({ type: "downloadDecision", proceed });
  }

  /** After a declined download: load again, without asking. */
  downloadAnyway(): void {
    this.downloadAgreed = true;
    this.worker?.terminate();
    this.worker = null;
    this.start();
  }

  /** Sends an image; returns its id (results for older ids can be ignored by the caller). */
  detect(image: ArrayBuffer, category: string): number {
    const id = this.nextId++;
    if (!this.worker || !this.ready) {
      queueMicrotask(() => this.events.detectError(id, "the model is not ready yet"));
      return id;
    }
    this.inFlight.add(id);
    this.worker.postMessage({ type: "detect", id, image, category }, [image]);
    return id;
  }

  /**
   * Builds a reference memory of `category` from encoded normal images (transferred); resolves to
   * its description and serialized bytes (for the page to store), rejects with the model's Error.
   */
  async buildReference(images: ArrayBuffer[], category: string): Promise<{ info: ReferenceInfo | null; memory: ArrayBuffer }> {
    const m = await this.request({ type: "buildReference", id: 0, category, images }, images);
    if (!m.memory) throw new Error("the model worker answered without the memory's bytes");
    return { info: m.info, memory: m.memory };
  }

  /** Restores serialized memory bytes (transferred) as the active memory of `category`. */
  async setReference(category: string, memory: ArrayBuffer): Promise<ReferenceInfo | null> {
    return (await this.request({ type: "setReference", id: 0, category, memory }, [memory])).info;
  }

  /** Forgets the page's memory of `category`; resolves to the memory active now (the bundle's, or null). */
  async clearReference(category: string): Promise<ReferenceInfo | null> {
    return (await this.request({ type: "clearReference", id: 0, category })).info;
  }

  private request(msg: ReferenceRequest, transfer: Transferable[] = []): Promise<ReferenceMsg> {
    if (!this.worker || !this.ready) return Promise.reject(new Error("the model is not ready yet"));
    const id = this.nextId++;
    const worker = this.worker;
    return new Promise<ReferenceMsg>((resolve, reject) => {
      this.refRequests.set(id, { resolve, reject });
      worker.postMessage({ ...msg, id }, transfer);
    });
  }

  private rejectReferences(message: string): void {
    const pending = [...this.refRequests.values()];
    this.refRequests.clear();
    for (const p of pending) p.reject(new Error(message));
  }

  dispose(): void {
    this.rejectReferences("the model was closed");
    this.worker?.terminate();
    this.worker = null;
    this.ready = false;
  }

  private fail(message: string): void {
    this.ready = false;
    for (const id of this.inFlight) this.events.detectError(id, message);
    this.inFlight.clear();
    this.rejectReferences(message);
    this.events.loadError(message);
  }

  private handle(from: WorkerLike, data: unknown): void {
    if (from !== this.worker) return; // a replaced worker
    if (!isWorkerToPage(data)) {
      this.events.loadError(`the model worker sent an unexpected message: ${errorMessage(data).slice(0, 200)}`);
      return;
    }
    const m: WorkerToPage = data;
    switch (m.type) {
      case "progress":
        this.events.progress(m);
        break;
      case "notice":
        this.events.notice(m);
        break;
      case "confirmDownload":
        if (this.events.confirmDownload) this.events.confirmDownload(m);
        else this.decideDownload(true);
        break;
      case "ready":
        this.ready = true;
        this.restarts = 0;
        this.events.ready(m);
        break;
      case "result":
        this.inFlight.delete(m.id);
        this.events.result(m);
        break;
      case "reference": {
        const p = this.refRequests.get(m.id);
        this.refRequests.delete(m.id);
        p?.resolve(m);
        break;
      }
      case "error":
        this.onError(m);
        break;
    }
  }

  private onError(m: ErrorMsg): void {
    if (m.stage === "detect" && m.id !== null) {
      this.inFlight.delete(m.id);
      this.events.detectError(m.id, m.message);
    }
    if (m.stage === "reference" && m.id !== null) {
      const p = this.refRequests.get(m.id);
      this.refRequests.delete(m.id);
      p?.reject(new Error(m.message));
    }
    if (m.fatal) {
      this.worker?.terminate();
      this.worker = null;
      this.ready = false;
      for (const id of this.inFlight) this.events.detectError(id, "the model worker stopped");
      this.inFlight.clear();
      this.rejectReferences(`the model worker stopped (${m.message})`);
      if (this.restarts >= MAX_RESTARTS) {
        this.events.loadError(`the model stopped working and could not be restarted: ${m.message}`);
        return;
      }
      this.restarts++;
      if (m.retryOnCpu) {
        this.events.restart(`${m.retryOnCpu}; switching to the CPU`);
        this.start("cpu", m.retryOnCpu);
      } else {
        this.events.restart(`the model stopped (${m.message}); restarting it`);
        this.start();
      }
      return;
    }
    if (m.stage === "load") {
      this.ready = false;
      this.events.loadError(m.message);
    } else if (m.stage === "protocol") {
      this.events.notice({ type: "notice", message: m.message });
    }
  }
}

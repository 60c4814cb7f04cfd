/**
 * PDF rendering off the main thread: pdfkit lays out and subsets the fonts synchronously (about 100 ms per contract
 * document on the reference machine), which stalled the Temporal worker's event loop, and with it every other
 * contract's activities and the `sign` Update's round trip. A small pool of worker threads (cores − 1, at least one)
 * renders instead; the main thread only waits. Each thread parses the fonts once. Idle threads do not keep the process
 * alive, and a thread idle for `pdfThreadIdleMs()` ends: its heap (fonts, pdfkit, what hundreds of renders left) is
 * tens of MB the worker would otherwise hold while thousands of contracts wait for their signature. The next render
 * starts a fresh one, which costs far more than one render: modules, fonts and its first renders before V8 compiled
 * them, about 2 s of CPU on a 2-core machine (50 renders at 54 ms CPU each against 11-14 warm). So the idle time is the
 * worker's setting `pdfThreadIdleSeconds` (60 s by default), not a few seconds. A thread that dies fails the renders
 * it had (the activity is retried) and is replaced on the next render.
 */
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { ImageBlock, TextBlock } from './render-contract';

export interface PdfJob {
  blocks: (TextBlock | ImageBlock)[];
  data: { title: string; createdAt: Date };
}

interface Pending {
  resolve: (pdf: Buffer) => void;
  reject: (err: Error) => void;
}

/** Threads in the pool: one core is left to the event loop (and Temporal's own threads). */
export const PDF_THREADS = Math.max(1, (os.availableParallelism?.() ?? os.cpus().length) - 1);

const ENTRY = path.join(__dirname, 'pdf-thread.js');

/** A thread without a render for this long ends (see above); the default of `config.worker.pdfThreadIdleSeconds`. */
export const DEFAULT_PDF_THREAD_IDLE_MS = 60_000;
let idleMs = DEFAULT_PDF_THREAD_IDLE_MS;

/** How long an idle thread stays; the worker sets it from its configuration at start. */
export function pdfThreadIdleMs(): number {
  return idleMs;
}

/** Sets the idle time for threads that become idle from now on (a whole number of ms, at least 1). */
export function setPdfThreadIdleMs(ms: number): void {
  if (!Number.isSafeInteger(ms) || ms < 1)
    throw new RangeError(`PDF thread idle time must be a positive integer of ms, got ${ms}`);
  idleMs = ms;
}

class PdfThread {
  private worker: Worker | undefined;
  private pending = new Map<number, Pending>();
  private nextId = 1;
  private idleTimer: NodeJS.Timeout | undefined;

  get load(): number {
    return this.pending.size;
  }

  get running(): boolean {
    return this.worker !== undefined;
  }

  render(job: PdfJob): Promise<Buffer> {
    const worker = (this.worker ??= this.start());
    clearTimeout(this.idleTimer);
    const id = this.nextId++;
    return new Promise<Buffer>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.ref();
      worker.postMessage({ id, ...job });
    });
  }

  /** Ends an idle thread; a render that came in meanwhile keeps it. */
  private retire(worker: Worker): void {
    if (this.worker !== worker || this.pending.size > 0) return;
    this.worker = undefined;
    void worker.terminate();
  }

  private start(): Worker {
    const worker = new Worker(ENTRY);
    worker.unref();
    worker.on('message', (msg: { id: number; pdf?: Uint8Array; error?: { name: string; message: string } }) => {
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (this.pending.size === 0) {
        worker.unref();
        this.idleTimer = setTimeout(() => this.retire(worker), idleMs).unref();
      }
      if (msg.pdf) p.resolve(Buffer.from(msg.pdf.buffer, msg.pdf.byteOffset, msg.pdf.byteLength));
      else p.reject(Object.assign(new Error(msg.error?.message ?? 'PDF rendering failed'), { name: msg.error?.name }));
    });
    const fail = (err: Error) => {
      // Every pending render is on the current thread (a thread is replaced only when it has none, or here). An older
      // thread's end, e.g. the exit of one retired while idle that arrives after a new render started its successor,
      // concerns none of them.
      if (this.worker !== worker) return;
      this.worker = undefined;
      const pending = [...this.pending.values()];
      this.pending.clear();
      for (const p of pending) p.reject(err);
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the PDF rendering thread exited (code ${code})`)));
    return worker;
  }
}

let pool: PdfThread[] | undefined;

/** Renders on the least busy thread of the pool. */
export function renderPdfOffThread(job: PdfJob): Promise<Buffer> {
  pool ??= Array.from({ length: PDF_THREADS }, () => new PdfThread());
  const thread = pool.reduce((a, b) => (b.load < a.load ? b : a));
  return thread.render(job);
}

/** Threads of the pool running now (idle ones end after `pdfThreadIdleMs()`); for tests and diagnostics. */
export function runningPdfThreads(): number {
  return pool?.filter((t) => t.running).length ?? 0;
}

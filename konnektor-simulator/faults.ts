/**
 * Fault injection, set by config at start or at run time through the admin endpoint:
 * latency per call and per document, a transient error rate, any gematik code on the next N calls, plain HTTP errors
 * (no GERROR detail) and dropped connections.
 */

export interface FaultConfig {
  /** Added to every SOAP call whose operation has no entry in `operationLatencyMs`, ms. @default 0 */
  latencyMs: number;
  /**
   * Per operation instead of `latencyMs` (e.g. `{ SignDocument: 1500 }`: a card's signing is slow, a GetSignatureMode
   * answered from the Konnektor's own state is not). @default {}
   */
  operationLatencyMs: Record<string, number>;
  /** Added per SignRequest of a SignDocument call, ms. @default 0 */
  perDocumentLatencyMs: number;
  /** Probability (0–1) that a call fails with `transientErrorCode`. @default 0 */
  transientErrorRate: number;
  /** gematik code of the random transient errors. @default 4060 (Ressource belegt) */
  transientErrorCode: number;
  /** Probability (0–1) that a call's connection is dropped without an answer. @default 0 */
  dropConnectionRate: number;
}

export const DEFAULT_FAULTS: FaultConfig = {
  latencyMs: 0,
  operationLatencyMs: {},
  perDocumentLatencyMs: 0,
  transientErrorRate: 0,
  transientErrorCode: 4060,
  dropConnectionRate: 0,
};

export interface QueuedError {
  /** gematik code sent as GERROR fault. */
  code?: number;
  /** HTTP status sent instead (with a SOAP fault without GERROR detail, or a plain body). */
  httpStatus?: number;
  /** Text of the fault. */
  text?: string;
  /** Remaining calls to fail. */
  remaining: number;
  /** Only these operations (all when empty). */
  operations?: string[];
}

export type FaultDecision =
  | { kind: 'none' }
  | { kind: 'drop' }
  | { kind: 'gematik'; code: number; text?: string }
  | { kind: 'http'; status: number; text?: string };

export class FaultInjector {
  config: FaultConfig;
  private queue: QueuedError[] = [];
  private dropNext = 0;

  constructor(
    config: Partial<FaultConfig> = {},
    private readonly random: () => number = Math.random
  ) {
    this.config = { ...DEFAULT_FAULTS, ...config };
  }

  set(config: Partial<FaultConfig>): void {
    this.config = { ...this.config, ...config };
  }

  /** The latency of one call of `operation` with `documents` SignRequests (0 for other operations), ms. */
  latencyOf(operation: string, documents: number): number {
    const perCall = this.config.operationLatencyMs[operation] ?? this.config.latencyMs;
    return perCall + this.config.perDocumentLatencyMs * documents;
  }

  /** The next `count` calls (of `operations`, or any) answer with gematik `code`. */
  failNext(code: number, count = 1, operations?: string[], text?: string): void {
    this.queue.push({ code, remaining: count, operations, text });
  }

  /** The next `count` calls (of `operations`, or any) answer with HTTP `status` and no GERROR detail. */
  httpErrorNext(status: number, count = 1, operations?: string[], text?: string): void {
    this.queue.push({ httpStatus: status, remaining: count, operations, text });
  }

  /** The next `count` calls lose their connection after the request arrived. */
  dropNextCalls(count = 1): void {
    this.dropNext += count;
  }

  reset(): void {
    this.config = { ...DEFAULT_FAULTS };
    this.queue = [];
    this.dropNext = 0;
  }

  pending(): { queued: QueuedError[]; dropNext: number } {
    return { queued: this.queue.map((q) => ({ ...q })), dropNext: this.dropNext };
  }

  decide(operation: string): FaultDecision {
    if (this.dropNext > 0) {
      this.dropNext--;
      return { kind: 'drop' };
    }
    if (this.config.dropConnectionRate > 0 && this.random() < this.config.dropConnectionRate) return { kind: 'drop' };
    const q = this.queue.find((e) => e.remaining > 0 && (!e.operations?.length || e.operations.includes(operation)));
    if (q) {
      q.remaining--;
      this.queue = this.queue.filter((e) => e.remaining > 0);
      if (q.httpStatus !== undefined) return { kind: 'http', status: q.httpStatus, text: q.text };
      return { kind: 'gematik', code: q.code!, text: q.text };
    }
    if (this.config.transientErrorRate > 0 && this.random() < this.config.transientErrorRate) {
      return { kind: 'gematik', code: this.config.transientErrorCode };
    }
    return { kind: 'none' };
  }
}

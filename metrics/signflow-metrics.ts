/**
 * signflow's own Prometheus metrics (prom-client), one registry per process. The worker and the API serve it at
 * `/metrics`; the worker adds the Temporal SDK's own metrics (metrics/metrics-server.ts). Labels are ids of kinds,
 * never personal data: no contract ids either (one series per contract would grow without bound).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'signflow_' });

/** Contract lifecycle: `started`, `signed`, `confirmed`, `withdrawn`, `expired`, `failed`. */
export const contractEvents = new Counter({
  name: 'signflow_contracts_total',
  help: 'Contract workflow events: started, signed, confirmed, withdrawn, expired, failed',
  labelNames: ['event'] as const,
  registers: [registry],
});

/** Mails by kind (`invitation`, `reminder`, `confirmation`, `staff-parked`, `staff-digest`) and result. */
export const mails = new Counter({
  name: 'signflow_mails_total',
  help: 'Mails by kind and result: sent, refused (MAIL_REJECTED, the recipient server refused for good), retried',
  labelNames: ['kind', 'result'] as const,
  registers: [registry],
});

export const qesDocumentsSigned = new Counter({
  name: 'signflow_qes_documents_signed_total',
  help: 'Documents countersigned with a QES through the Konnektor',
  registers: [registry],
});

export const signDocumentCalls = new Counter({
  name: 'signflow_konnektor_sign_document_calls_total',
  help: 'SignDocument calls to the Konnektor (each signs a batch)',
  registers: [registry],
});

export const signDocumentBatchSize = new Histogram({
  name: 'signflow_konnektor_sign_document_batch_size',
  help: 'Documents per SignDocument call',
  buckets: [1, 2, 5, 10, 25, 50, 100, 250],
  registers: [registry],
});

export const konnektorCallDuration = new Histogram({
  name: 'signflow_konnektor_call_duration_seconds',
  help: 'Latency of Konnektor SOAP calls by operation and outcome (ok, error)',
  labelNames: ['operation', 'outcome'] as const,
  buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
  registers: [registry],
});

export const apiRequests = new Counter({
  name: 'signflow_api_requests_total',
  help: 'HTTP API requests by route (the pattern, not the URL), method and status code',
  labelNames: ['route', 'method', 'status'] as const,
  registers: [registry],
});

export const apiRequestDuration = new Histogram({
  name: 'signflow_api_request_duration_seconds',
  help: 'HTTP API request duration by route and method',
  labelNames: ['route', 'method'] as const,
  buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [registry],
});

/** What a process knows about the cluster at scrape time (the worker sets it: it has a Temporal client). */
export interface ClusterState {
  /** Running contract workflows per `WaitingReason`. */
  waiting: Record<string, number>;
  /** Parked eHBA signers. */
  parkedSigners: { signer: string; failureType: string; gematikCode?: number; sinceSeconds: number }[];
}

let clusterStateSource: (() => Promise<ClusterState>) | undefined;

/** Installs the function the gauges below read at scrape time (`undefined` removes it). */
export function setClusterStateSource(source: (() => Promise<ClusterState>) | undefined): void {
  clusterStateSource = source;
}

export const contractsWaiting = new Gauge({
  name: 'signflow_contracts_waiting',
  help: 'Running contract workflows by what they wait for (search attribute WaitingReason)',
  labelNames: ['reason'] as const,
  registers: [registry],
  async collect() {
    this.reset();
    const state = await readClusterState();
    for (const [reason, n] of Object.entries(state?.waiting ?? {})) this.set({ reason }, n);
  },
});

export const signerParked = new Gauge({
  name: 'signflow_signer_parked',
  help: "1 while an eHBA's signer is parked (a person is needed), labelled with the failure type and gematik code",
  labelNames: ['signer', 'failure_type', 'gematik_code'] as const,
  registers: [registry],
  async collect() {
    this.reset();
    const state = await readClusterState();
    for (const p of state?.parkedSigners ?? []) {
      this.set({ signer: p.signer, failure_type: p.failureType, gematik_code: String(p.gematikCode ?? '') }, 1);
    }
  },
});

export const signerParkedSince = new Gauge({
  name: 'signflow_signer_parked_since_seconds',
  help: "Unix time an eHBA's signer parked (absent while it is not parked)",
  labelNames: ['signer'] as const,
  registers: [registry],
  async collect() {
    this.reset();
    const state = await readClusterState();
    for (const p of state?.parkedSigners ?? []) this.set({ signer: p.signer }, p.sinceSeconds);
  },
});

/** One read per scrape for all three gauges: the first gauge's collect reads, the others reuse it for a moment. */
let cached: { at: number; state: Promise<ClusterState | undefined> } | undefined;
function readClusterState(): Promise<ClusterState | undefined> {
  if (!clusterStateSource) return Promise.resolve(undefined);
  const now = Date.now();
  if (!cached || now - cached.at > 5_000) {
    const source = clusterStateSource;
    cached = { at: now, state: source().catch(() => undefined) };
  }
  return cached.state;
}

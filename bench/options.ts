/** Command-line options of `npm run bench`, with defaults sized so the whole run stays under 3 minutes on 2 cores. */
import { parseArgs } from 'node:util';

export type BenchDb = 'sqlite' | 'mariadb';
export type Scenario = 'throughput' | 'countersign';

export interface BenchOptions {
  /** Contracts per database in the throughput scenario (the activity latencies come from their histories). */
  contracts: number;
  /** Contracts run one at a time per database before the loaded run (latency without queueing). */
  alone: number;
  /** Contracts in flight at once (closed loop: a finished contract makes room for the next). */
  concurrency: number;
  /**
   * Contracts per database and subject run before measuring, not counted: the JIT, pools and SMTP connections of a
   * worker that has been running a while. V8 keeps compiling signflow's code for a few hundred contracts (TurboFan
   * ~10 ms CPU per contract on its helper threads at first, docs/benchmarks.md), a one-time cost of a worker's start
   * that a worker running for days does not pay per contract. @default 200
   */
  warmup: number;
  /** Contracts countersigned first (batched) in scenario 3, not counted. @default concurrency */
  qesWarmup: number;
  /** Measured rounds per subject, signflow and the bare floor workflow taking turns; `contracts` split over them. */
  rounds: number;
  /** Contracts per subject in a separate CPU-profiled pass (CPU by kind of work); 0 = no profile. */
  profile: number;
  /** Folder to write the profiled pass's V8 profiles to (`<db>-<subject>.cpuprofile`, for Chrome DevTools); none if unset. */
  cpuprofileDir?: string;
  dbs: BenchDb[];
  scenarios: Scenario[];
  /** Contracts countersigned per batch-size variant. */
  qesContracts: number;
  /** The batched variant's konnektor.batchSize (compared with 1). */
  qesBatch: number;
  /** Simulated Konnektor latency per SignDocument call (the card signing), ms. */
  latencyMs: number;
  /** Simulated Konnektor latency of every other SOAP call (GetSignatureMode, GetJobNumber, GetCards…), ms. */
  otherLatencyMs: number;
  /** Simulated Konnektor latency per document of a SignDocument call, ms. */
  perDocumentLatencyMs: number;
  /** Renders of the contract document measured alone. */
  renders: number;
  /** Bound on the whole run, ms; everything is stopped when it is reached. */
  timeoutMs: number;
}

const USAGE = `npm run bench -- [options]

  --contracts N         contracts per database and subject, throughput scenario (default 200)
  --concurrency N       contracts in flight at once (default 10)
  --alone N             contracts one at a time first, for the unloaded latency (default 5)
  --warmup N            unmeasured contracts per database and subject first (default 200: past the JIT's warm-up)
  --qes-warmup N        unmeasured contracts countersigned first in scenario 3 (default: --concurrency)
  --rounds N            measured rounds, signflow and the bare floor taking turns (default 4)
  --profile N           contracts per subject in a CPU-profiled pass after the rounds, 0 = none (default 10)
  --cpuprofile DIR      also write the profiled pass's V8 profiles there (<db>-<subject>.cpuprofile, for DevTools)
  --db LIST             sqlite,mariadb (default both; mariadb needs SIGNFLOW_TEST_MYSQL_URL or scripts/start-mariadb.sh)
  --scenarios LIST      throughput,countersign (default both; per-activity latency comes with throughput)
  --qes-contracts N     contracts countersigned per variant (default 25)
  --qes-batch N         batch size of the batched variant, compared with 1 (default 25)
  --latency MS          Konnektor latency per SignDocument call, the card signing (default 150)
  --per-doc-latency MS  Konnektor latency per signed document (default 40)
  --other-latency MS    Konnektor latency of every other SOAP call (default 20)
  --qes-target          issue 9 target 5: --qes-contracts 100 --latency 1500 --per-doc-latency 300 (explicit
                        options win)
  --renders N           contract documents rendered alone (default 30)
  --timeout S           stop everything after S seconds (default 600)

  --scenarios waiting   on its own: worker memory with contracts waiting for their signature (issue 9 target 4).
                        Builds dist/ (npm run build) and measures the production worker, node dist/cli/main.js
                        worker, in its own process. --waiting N (default 5000), --cache N
                        (SIGNFLOW_WORKER_MAX_CACHED_WORKFLOWS), --signs N (default 10), --concurrency N starts in
                        flight (default 8), --worker-env K=V,…, --worker-flags "…", --timeout S (default 3600)
`;

function positiveInt(name: string, raw: string | undefined, fallback: number, min = 1): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}, got ${raw}`);
  return n;
}

function list<T extends string>(name: string, raw: string | undefined, allowed: readonly T[]): T[] {
  if (raw === undefined) return [...allowed];
  const items = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const item of items) {
    if (!allowed.includes(item as T))
      throw new Error(`--${name}: unknown value ${item} (allowed: ${allowed.join(', ')})`);
  }
  if (items.length === 0) throw new Error(`--${name} is empty`);
  return [...new Set(items)] as T[];
}

/** Parses argv (without node and the script); prints the usage and exits on --help. */
export function parseBenchOptions(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      contracts: { type: 'string' },
      concurrency: { type: 'string' },
      alone: { type: 'string' },
      warmup: { type: 'string' },
      'qes-warmup': { type: 'string' },
      rounds: { type: 'string' },
      profile: { type: 'string' },
      cpuprofile: { type: 'string' },
      db: { type: 'string' },
      scenarios: { type: 'string' },
      'qes-contracts': { type: 'string' },
      'qes-batch': { type: 'string' },
      latency: { type: 'string' },
      'per-doc-latency': { type: 'string' },
      'other-latency': { type: 'string' },
      'qes-target': { type: 'boolean' },
      renders: { type: 'string' },
      timeout: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const qesBatch = positiveInt('qes-batch', values['qes-batch'], 25);
  if (qesBatch > 50) throw new Error('--qes-batch must be <= 50 (the Konnektor client sends at most 50 per call)');
  const concurrency = positiveInt('concurrency', values.concurrency, 10);
  const target = values['qes-target'] === true;
  return {
    contracts: positiveInt('contracts', values.contracts, 200),
    concurrency,
    alone: positiveInt('alone', values.alone, 5),
    warmup: positiveInt('warmup', values.warmup, 200, 0),
    qesWarmup: positiveInt('qes-warmup', values['qes-warmup'], concurrency, 0),
    rounds: positiveInt('rounds', values.rounds, 4),
    profile: positiveInt('profile', values.profile, 10, 0),
    cpuprofileDir: values.cpuprofile,
    dbs: list<BenchDb>('db', values.db, ['sqlite', 'mariadb']),
    scenarios: list<Scenario>('scenarios', values.scenarios, ['throughput', 'countersign']),
    qesContracts: positiveInt('qes-contracts', values['qes-contracts'], target ? 100 : 25),
    qesBatch,
    latencyMs: positiveInt('latency', values.latency, target ? 1500 : 150, 0),
    perDocumentLatencyMs: positiveInt('per-doc-latency', values['per-doc-latency'], target ? 300 : 40, 0),
    otherLatencyMs: positiveInt('other-latency', values['other-latency'], 20, 0),
    renders: positiveInt('renders', values.renders, 30),
    timeoutMs: positiveInt('timeout', values.timeout, 600) * 1000,
  };
}

/**
 * `npm run bench -- --konnektor-memory [--docs 50] [--doc-mb 5] [--max-call-mb 32]`: the worker's memory while it
 * countersigns one large batch (issue 7 defect 4: 50 × 5 MB must stay under 300 MB RSS above the worker's idle).
 *
 * Three processes, so that only the worker is measured:
 * - this one prepares a SQLite CRM database with the documents (PDFs of the given size) and prints the report;
 * - the Konnektor simulator runs in its own process (it holds whole calls in memory, a real Konnektor is elsewhere);
 * - the worker process (this file with `--worker`) opens the database, connects to the Konnektor, activates the comfort
 *   signature, measures its idle RSS, then runs the `signDocuments` activity for all documents at once and reports its
 *   peak RSS (sampled every 10 ms and the kernel's high-water mark, `maxRSS`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createKonnektorActivities } from '../activities/konnektor/konnektor.activities';
import { loadClientCredentials } from '../activities/konnektor/credentials';
import { KonnektorClient } from '../activities/konnektor/konnektor-client';
import { createDb } from '../db/connection';
import { createTestDb } from '../harness/databases';
import { CONTEXT } from '../harness/konnektor-client';
import { loadConfig } from '../temporal.config';

const progress = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;

interface WorkerReport {
  idleRss: number;
  peakRssSampled: number;
  maxRss: number;
  signed: number;
  rejected: number;
  calls: number;
  seconds: number;
}

/** A valid PDF of about `bytes` bytes: one page and an unused binary stream that makes up the size. */
export function paddedPdf(bytes: number, label: string): Buffer {
  const parts: Buffer[] = [];
  const offsets: number[] = [];
  let size = 0;
  const push = (b: Buffer | string) => {
    const buf = typeof b === 'string' ? Buffer.from(b, 'latin1') : b;
    parts.push(buf);
    size += buf.length;
  };
  const obj = (n: number, body: Buffer | string) => {
    offsets[n] = size;
    push(`${n} 0 obj\n`);
    push(body);
    push('\nendobj\n');
  };
  push('%PDF-1.7\n%\xE2\xE3\xCF\xD3\n');
  obj(1, '<< /Type /Catalog /Pages 2 0 R >>');
  obj(2, '<< /Type /Pages /Kids [3 0 R] /Count 1 >>');
  obj(3, '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << >> >>');
  const content = `BT /F1 12 Tf 72 770 Td (${label}) Tj ET`;
  obj(4, `<< /Length ${content.length} >>\nstream\n${content}\nendstream`);
  const padding = randomBytes(Math.max(0, bytes - 1024));
  obj(
    5,
    Buffer.concat([Buffer.from(`<< /Length ${padding.length} >>\nstream\n`), padding, Buffer.from('\nendstream')])
  );
  const xref = size;
  push(`xref\n0 6\n0000000000 65535 f \n`);
  for (let n = 1; n <= 5; n++) push(`${String(offsets[n]).padStart(10, '0')} 00000 n \n`);
  push(`trailer\n<< /Size 6 /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`);
  return Buffer.concat(parts);
}

function waitForLine(child: ChildProcess, pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`simulator did not start: ${seen.slice(-500)}`)), timeoutMs);
    child.stdout!.on('data', (c: Buffer) => {
      seen += c.toString();
      const m = pattern.exec(seen);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    });
    child.once('exit', (code) => reject(new Error(`simulator exited (${code}): ${seen.slice(-500)}`)));
  });
}

async function orchestrate(o: { docs: number; docMb: number; maxCallMb: number }): Promise<void> {
  const tsx = path.resolve(__dirname, '..', 'node_modules', '.bin', 'tsx');
  const simDir = fs.mkdtempSync(path.join(os.tmpdir(), 'signflow-bench-sim-'));
  const sim = spawn(tsx, [path.resolve(__dirname, '..', 'konnektor-simulator', 'main.ts')], {
    env: {
      ...process.env,
      SIGNFLOW_DATA_DIR: simDir,
      SIGNFLOW_KONNEKTOR_SIM_PORT: '0',
      SIGNFLOW_KONNEKTOR_SIM_ADMIN_PORT: '0',
      SIGNFLOW_KONNEKTOR_SIM_COMFORT_MAX: '250',
      SIGNFLOW_KONNEKTOR_SIM_P12: 'modern',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const testDb = await createTestDb('sqlite');
  try {
    const settings = await waitForLine(
      sim,
      /SIGNFLOW_KONNEKTOR_SDS_URL=(\S+)[\s\S]*SIGNFLOW_KONNEKTOR_CLIENT_ZIP=(\S+)[\s\S]*SIGNFLOW_KONNEKTOR_SERVER_FINGERPRINT=(\S+)/,
      120_000
    );
    progress(`simulator at ${settings[1]}; writing ${o.docs} documents of ${o.docMb} MB`);
    const d = testDb.config.crm.documents;
    const contractIds = testDb.seed.contractIds;
    const items: { contractId: number; workflowId: string; documentId: number }[] = [];
    for (let i = 0; i < o.docs; i++) {
      const [id] = await testDb.db(d.table).insert({
        [d.title]: `Honorarvertrag Benchmark ${i}`,
        [d.templateKind]: 'Vertrag',
        [d.mimeType]: 'application/pdf',
        [d.content]: paddedPdf(o.docMb * 1024 * 1024, `Vertrag ${i}`),
        [d.createdAt]: new Date(),
      });
      items.push({
        contractId: contractIds[i % contractIds.length]!,
        workflowId: `bench-memory-${i}`,
        documentId: id!,
      });
    }
    progress('starting the worker process');
    const worker = spawn(tsx, [__filename, '--worker'], {
      env: {
        ...process.env,
        BENCH_DB_URL: testDb.url,
        BENCH_SDS_URL: settings[1],
        BENCH_CLIENT_ZIP: settings[2],
        BENCH_FINGERPRINT: settings[3],
        BENCH_ITEMS: JSON.stringify(items),
        BENCH_MAX_CALL_MB: String(o.maxCallMb),
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    worker.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
    const code = await new Promise<number | null>((r) => worker.once('exit', r));
    if (code !== 0) throw new Error(`worker process failed (${code})`);
    const r = JSON.parse(stdout.trim().split('\n').pop()!) as WorkerReport;
    const peak = Math.max(r.peakRssSampled, r.maxRss);
    const above = peak - r.idleRss;
    const verdict = above < 300 * 1024 * 1024 ? 'under' : 'OVER';
    process.stdout.write(
      [
        '## Konnektor: worker memory while countersigning one batch',
        '',
        `${o.docs} documents × ${o.docMb} MB (${mb(o.docs * o.docMb * 1024 * 1024)}), SIGNFLOW_KONNEKTOR_MAX_CALL_MB=${o.maxCallMb}, ` +
          `SQLite, simulator in its own process. Goal: under 300 MB RSS above idle.`,
        '',
        '| worker RSS idle | peak (sampled 10 ms) | peak (maxRSS) | above idle | SignDocument calls | signed | rejected | time |',
        '|---|---|---|---|---|---|---|---|',
        `| ${mb(r.idleRss)} | ${mb(r.peakRssSampled)} | ${mb(r.maxRss)} | ${mb(above)} (${verdict} 300 MB) | ${r.calls} | ${r.signed} | ${r.rejected} | ${r.seconds.toFixed(1)} s |`,
        '',
      ].join('\n')
    );
  } finally {
    sim.kill('SIGTERM');
    await testDb.destroy();
    fs.rmSync(simDir, { recursive: true, force: true });
  }
}

async function worker(): Promise<void> {
  const env = process.env;
  const config = loadConfig({ database: { url: env.BENCH_DB_URL } }, {});
  const db = createDb(env.BENCH_DB_URL!, {});
  const konnektor = new KonnektorClient({
    sdsUrl: env.BENCH_SDS_URL!,
    credentials: loadClientCredentials({ clientZipPath: env.BENCH_CLIENT_ZIP }),
    trust: { fingerprintSha256: env.BENCH_FINGERPRINT },
    context: CONTEXT,
    callTimeoutMs: 600_000,
    maxRequestsPerCall: 50,
    maxBytesPerCall: Number(env.BENCH_MAX_CALL_MB) * 1024 * 1024,
  });
  const acts = createKonnektorActivities({ konnektor, db, config });
  try {
    await acts.activateComfortSignature({});
    const items = JSON.parse(env.BENCH_ITEMS!) as { contractId: number; workflowId: string; documentId: number }[];
    // Idle: everything loaded and connected, nothing in flight.
    (globalThis as { gc?: () => void }).gc?.();
    await new Promise((r) => setTimeout(r, 500));
    const idleRss = process.memoryUsage.rss();
    let peak = idleRss;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage.rss());
    }, 10);
    const t0 = performance.now();
    const res = await acts.signDocuments({ items });
    const seconds = (performance.now() - t0) / 1000;
    clearInterval(sampler);
    const report: WorkerReport = {
      idleRss,
      peakRssSampled: peak,
      maxRss: process.resourceUsage().maxRSS * 1024,
      signed: res.signed.length,
      rejected: res.rejected.length,
      calls: res.signDocumentCalls,
      seconds,
    };
    process.stdout.write(`${JSON.stringify(report)}\n`);
  } finally {
    konnektor.close();
    await db.destroy();
  }
}

export async function runKonnektorMemoryBench(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      'konnektor-memory': { type: 'boolean' },
      docs: { type: 'string', default: '50' },
      'doc-mb': { type: 'string', default: '5' },
      'max-call-mb': { type: 'string', default: '32' },
    },
    strict: true,
  });
  const int = (name: string, raw: string, min: number, max: number) => {
    const n = Number(raw);
    if (!Number.isSafeInteger(n) || n < min || n > max) throw new Error(`--${name} must be ${min}..${max}, got ${raw}`);
    return n;
  };
  await orchestrate({
    docs: int('docs', values.docs, 1, 250),
    docMb: int('doc-mb', values['doc-mb'], 1, 25),
    maxCallMb: int('max-call-mb', values['max-call-mb'], 25, 250),
  });
}

if (require.main === module && process.argv.includes('--worker')) {
  worker().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    }
  );
}

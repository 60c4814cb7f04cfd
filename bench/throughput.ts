/**
 * Scenario 1 (and the data for 2): contracts end to end on one stack. Each contract goes the portal's way: start the
 * workflow, wait for the invitation in the SMTP inbox, sign with the `sign` Update (click), wait for the result
 * (recorded and confirmation mail sent). A closed loop keeps `concurrency` contracts in flight.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { contractHandle, signContractUpdate, startContractWorkflow } from '../client/contract-client';
import type { ContractResult } from '../workflows/definitions';
import { cpuWindow, type CpuWindow } from './cpu';
import { stepTimings, type StepTiming } from './history';
import { addContracts, mapLimit, type BenchStack } from './stack';

export interface ContractTiming {
  contractId: number;
  /** Start call → invitation mail in the inbox. */
  startToInvitationMs: number;
  /** The `sign` Update's round trip (validator, recordSignature, reply). */
  signUpdateMs: number;
  /** Sign call → workflow completed (includes the Update, the confirmation mail and the last workflow task). */
  signToCompletedMs: number;
  totalMs: number;
}

export interface ThroughputResult {
  contracts: ContractTiming[];
  /** First start → last completion of the measured contracts, ms. */
  wallMs: number;
  contractsPerSecond: number;
  steps: StepTiming[];
  /** CPU used while the measured contracts ran. */
  cpu: CpuWindow;
  /** SQL statements the worker's pool sent while the measured contracts ran (transaction begin/commit included). */
  sqlStatements: number;
  /** Event-loop delay of this process (activities run on its main thread) during the loaded run, ms. */
  eventLoopDelay: { p50: number; p99: number; max: number };
  /** The same path one contract at a time before the loaded run: the latency without queueing. */
  alone: { contracts: ContractTiming[]; steps: StepTiming[] };
}

const mailKey = (contractId: number, kind: string) => `honorarvertrag-${contractId}:${kind}`;

async function oneContract(stack: BenchStack, contractId: number, contactId: number): Promise<ContractTiming> {
  const t0 = performance.now();
  await startContractWorkflow(stack.client, stack.config, contractId);
  await stack.inbox.waitFor((m) => m.headers['x-signflow-mail-key'] === mailKey(contractId, 'invitation'), 60_000);
  const t1 = performance.now();
  await signContractUpdate(stack.client, contractId, { contactId, method: 'click' });
  const t2 = performance.now();
  const result = (await contractHandle(stack.client, contractId).result()) as ContractResult;
  const t3 = performance.now();
  if (result.outcome !== 'signed') throw new Error(`contract ${contractId} ended ${result.outcome}, not signed`);
  return {
    contractId,
    startToInvitationMs: t1 - t0,
    signUpdateMs: t2 - t1,
    signToCompletedMs: t3 - t1,
    totalMs: t3 - t0,
  };
}

export async function runThroughput(
  stack: BenchStack,
  opts: { contracts: number; concurrency: number; warmup: number; alone: number; serverPid?: number }
): Promise<ThroughputResult> {
  if (opts.warmup > 0) {
    const warm = await addContracts(stack, opts.warmup);
    await mapLimit(warm, opts.concurrency, (c) => oneContract(stack, c.contractId, c.contactId));
  }
  const aloneRows = await addContracts(stack, opts.alone);
  const alone = await mapLimit(aloneRows, 1, (c) => oneContract(stack, c.contractId, c.contactId));
  const rows = await addContracts(stack, opts.contracts);
  let sqlStatements = 0;
  const countQuery = () => void sqlStatements++;
  stack.db.on('query', countQuery);
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const cpu = cpuWindow(opts.serverPid);
  const t0 = performance.now();
  const contracts = await mapLimit(rows, opts.concurrency, (c) => oneContract(stack, c.contractId, c.contactId));
  const wallMs = performance.now() - t0;
  const cpuUsed = cpu();
  loop.disable();
  const eventLoopDelay = { p50: loop.percentile(50) / 1e6, p99: loop.percentile(99) / 1e6, max: loop.max / 1e6 };
  stack.db.off('query', countQuery);
  // After the clock stopped: reading the histories costs nothing measured.
  const history = (c: { contractId: number }) => contractHandle(stack.client, c.contractId).fetchHistory();
  const histories = await mapLimit(rows, 4, history);
  const aloneHistories = await mapLimit(aloneRows, 4, history);
  return {
    contracts,
    wallMs,
    contractsPerSecond: (opts.contracts / wallMs) * 1000,
    steps: histories.flatMap(stepTimings),
    cpu: cpuUsed,
    sqlStatements,
    eventLoopDelay,
    alone: { contracts: alone, steps: aloneHistories.flatMap(stepTimings) },
  };
}

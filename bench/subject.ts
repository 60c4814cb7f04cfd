/**
 * What the throughput scenario runs: signflow's contract path or the bare floor workflow, behind one shape so both
 * go through the same closed loop, the same clocks and the same history reading.
 */
import type { History } from '@temporalio/common/lib/proto-utils';
import { contractHandle, signContractUpdate, startContractWorkflow } from '../client/contract-client';
import type { ContractResult } from '../workflows/definitions';
import { addContracts, type BenchStack } from './stack';

export interface SubjectItem {
  contractId: number;
  contactId: number;
}

export interface ContractTiming {
  contractId: number;
  /** Start call → invitation (mail in the inbox; the floor's `invite` activity ran). */
  startToInvitationMs: number;
  /** The `sign` Update's round trip (validator, the recording activity, reply). */
  signUpdateMs: number;
  /** Sign call → workflow completed (includes the Update, the confirmation and the last workflow task). */
  signToCompletedMs: number;
  totalMs: number;
}

export interface Subject {
  name: string;
  add(count: number): Promise<SubjectItem[]>;
  one(item: SubjectItem): Promise<ContractTiming>;
  history(item: SubjectItem): Promise<History>;
  /** Counts the SQL statements of the subject's pool while `on`; absent when it has no database. */
  sql?: { on(): void; off(): number };
}

const mailKey = (contractId: number, kind: string) => `honorarvertrag-${contractId}:${kind}`;

/** signflow's contract path the portal's way: start, invitation mail in the inbox, `sign` (click), result. */
export function signflowSubject(stack: BenchStack): Subject {
  let statements = 0;
  const count = () => void statements++;
  return {
    name: 'signflow',
    add: (count) => addContracts(stack, count),
    async one({ contractId, contactId }) {
      const t0 = performance.now();
      await startContractWorkflow(stack.client, stack.config, contractId);
      await stack.waitForMail(mailKey(contractId, 'invitation'), 60_000);
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
    },
    history: (item) => contractHandle(stack.client, item.contractId).fetchHistory(),
    sql: {
      on() {
        statements = 0;
        stack.db.on('query', count);
      },
      off() {
        stack.db.off('query', count);
        return statements;
      },
    },
  };
}

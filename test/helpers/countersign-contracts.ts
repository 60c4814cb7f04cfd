/** Contracts on their way to the QES countersignature, for the countersigning tests. */
import type { Client } from '@temporalio/client';
import { contractHandle, startContractWorkflow } from '../../client/contract-client';
import { statusQuery } from '../../workflows/definitions';
import { addSendableContract, type ContractStack } from './contract-stack';
import { eventually } from './waits';

/** Starts a contract and confirms it by staff (the quickest way to a confirmed contract, which then asks for its QES). */
export async function confirmedByStaff(stack: ContractStack, client: Client): Promise<number> {
  const contractId = await addSendableContract(stack.t);
  await startContractWorkflow(client, stack.config, contractId);
  const handle = contractHandle(client, contractId);
  await eventually(async () => expect((await handle.query(statusQuery)).phase).toBe('awaiting-signature'));
  await handle.executeUpdate('confirmManually', { args: [{ staffContactId: stack.t.seed.staffContactId }] });
  return contractId;
}

/** Resolves once the contract waits at its eHBA's parked signer for a comfort signature. */
export async function parkedAtSigner(client: Client, contractId: number): Promise<void> {
  await eventually(async () =>
    expect((await contractHandle(client, contractId).query(statusQuery)).phase).toBe('waiting-for-comfort-signature')
  );
}

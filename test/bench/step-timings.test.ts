/**
 * The bench's per-step figures read from a real history of generation 4 (test/histories, recorded by
 * test/workflows/local-confirmation-crash.test.ts): the confirmation mail is a local activity there, so the only mail
 * activity is the invitation, and the confirmation must show up as its own local step, not as a nameless
 * `sendContractMail (local)` nor as the invitation's.
 */
import fs from 'node:fs';
import path from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { stepTimings } from '../../bench/history';
import { actionCounts } from '../../bench/actions';

const history = historyFromJSON(
  JSON.parse(
    fs.readFileSync(
      path.join(__dirname, '..', 'histories', 'confirmation-local-after-lost-worker.generation-4.json'),
      'utf8'
    )
  ) as unknown
);

test('a local confirmation mail is its own step; the mail activity is the invitation', () => {
  const steps = stepTimings(history).filter((s) => s.step !== '(workflow task)');
  expect(steps.map((s) => s.step)).toEqual([
    'loadAndPrepareSignatureRequest',
    'recordSignature (local)',
    'createCompletionCertificate',
    'sendContractMail (confirmation) (local)',
    'sendContractMail (invitation)',
  ]);
  const confirmation = steps.find((s) => s.step === 'sendContractMail (confirmation) (local)');
  expect(confirmation?.queuedMs).toBe(0);
  expect(confirmation?.runMs).toBeGreaterThanOrEqual(0);
});

test('the local confirmation counts as a local activity in a workflow task of its own', () => {
  expect(actionCounts(history)).toMatchObject({
    activities: 3,
    localActivities: 2,
    localActivityTasks: 2,
    markers: 0,
  });
});

/**
 * Generation 5 (test/histories/lean-click-signed.generation-5, recorded by test/workflows/markerless-path.test.ts):
 * step 2 runs as a local activity in the first workflow task and shows as `loadAndPrepareSignatureRequest (local)`.
 */
const generation5 = historyFromJSON(
  JSON.parse(
    fs.readFileSync(path.join(__dirname, '..', 'histories', 'lean-click-signed.generation-5.json'), 'utf8')
  ) as unknown
);

test('generation 5: the local preparation is its own step; the only mail activity is the invitation', () => {
  const steps = stepTimings(generation5).filter((s) => s.step !== '(workflow task)');
  expect(steps.map((s) => s.step).sort()).toEqual(
    [
      'createCompletionCertificate',
      'loadAndPrepareSignatureRequest (local)',
      'recordSignature (local)',
      'sendContractMail (confirmation) (local)',
      'sendContractMail (invitation)',
    ].sort()
  );
  const prepare = steps.find((s) => s.step === 'loadAndPrepareSignatureRequest (local)');
  expect(prepare?.queuedMs).toBe(0);
  expect(prepare?.runMs).toBeGreaterThanOrEqual(0);
  expect(actionCounts(generation5)).toMatchObject({
    activities: 2,
    localActivities: 3,
    localActivityTasks: 3,
    markers: 0,
  });
});

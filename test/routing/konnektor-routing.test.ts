/**
 * The routing settings of the Konnektor activities (temporal.config.ts): every wrong value is refused at start with
 * the variable named, and the route of one contract (which eHBA, which queue) for every kind of CRM row.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig } from '../../temporal.config';
import { countersignRoute, CountersignRouteError } from '../../routing/countersign-route';
import { konnektorRunsOnSite } from '../../routing/konnektor-routing-config';

const A1 = '80276001011699910101';
const A2 = '80276001011699910102';
const B1 = '80276001011699920201';

const MANDANTEN = {
  nord: { taskQueue: 'signflow-konnektor-nord', ehba: [A1, A2] },
  sued: { taskQueue: 'signflow-konnektor-sued', ehba: [B1] },
};

function configError(env: Record<string, string>, overrides: unknown = {}): string {
  try {
    loadConfig(overrides, env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('the configuration was accepted');
}

describe('configuration', () => {
  test('unset: one worker for everything', () => {
    const config = loadConfig({}, {});
    expect(config.konnektor.taskQueue).toBeUndefined();
    expect(config.konnektor.mandanten).toBeUndefined();
    expect(konnektorRunsOnSite(config.konnektor)).toBe(false);
  });

  test('SIGNFLOW_KONNEKTOR_TASK_QUEUE moves the Konnektor activities on-site', () => {
    const config = loadConfig({}, { SIGNFLOW_KONNEKTOR_TASK_QUEUE: 'signflow-konnektor-praxis1' });
    expect(config.konnektor.taskQueue).toBe('signflow-konnektor-praxis1');
    expect(konnektorRunsOnSite(config.konnektor)).toBe(true);
  });

  test('countersigning on the hosted side needs no Konnektor settings when an on-site worker has them', () => {
    const hosted = loadConfig(
      {},
      { SIGNFLOW_QES_ENABLED: 'true', SIGNFLOW_KONNEKTOR_TASK_QUEUE: 'signflow-konnektor-p1' }
    );
    expect(hosted.konnektor).toMatchObject({ enabled: true, taskQueue: 'signflow-konnektor-p1' });
    expect(hosted.konnektor.sdsUrl).toBeUndefined();
    const text = configError({ SIGNFLOW_QES_ENABLED: 'true' });
    expect(text).toContain('SIGNFLOW_KONNEKTOR_SDS_URL');
    expect(text).toContain('SIGNFLOW_KONNEKTOR_TASK_QUEUE');
  });

  test.each([
    [
      'the main queue',
      { SIGNFLOW_KONNEKTOR_TASK_QUEUE: 'signflow' },
      /must differ from the main task queue \(signflow\)/,
    ],
    [
      'the main queue, renamed',
      { SIGNFLOW_TASK_QUEUE: 'q1', SIGNFLOW_KONNEKTOR_TASK_QUEUE: 'q1' },
      /main task queue \(q1\)/,
    ],
    ['a blank in the name', { SIGNFLOW_KONNEKTOR_TASK_QUEUE: 'praxis nord' }, /must be 1-200 characters/],
    ['a slash in the name', { SIGNFLOW_KONNEKTOR_TASK_QUEUE: 'praxis/nord' }, /must be 1-200 characters/],
  ])('SIGNFLOW_KONNEKTOR_TASK_QUEUE: %s is refused, naming the variable', (_what, env, message) => {
    const text = configError(env);
    expect(text).toMatch(message);
    expect(text).toContain('SIGNFLOW_KONNEKTOR_TASK_QUEUE');
  });

  const withColumn = { SIGNFLOW_CRM_MAPPING: '' };
  let dir: string;
  let mapping: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'signflow-routing-'));
    mapping = path.join(dir, 'mapping.json');
    fs.writeFileSync(mapping, JSON.stringify({ contracts: { mandant: 'mandant' } }));
    withColumn.SIGNFLOW_CRM_MAPPING = mapping;
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('SIGNFLOW_KONNEKTOR_MANDANTEN (inline) and _FILE give the same table', () => {
    const inline = loadConfig({}, { ...withColumn, SIGNFLOW_KONNEKTOR_MANDANTEN: JSON.stringify(MANDANTEN) });
    const file = path.join(dir, 'mandanten.json');
    fs.writeFileSync(file, JSON.stringify(MANDANTEN));
    const fromFile = loadConfig({}, { ...withColumn, SIGNFLOW_KONNEKTOR_MANDANTEN_FILE: file });
    expect(inline.konnektor.mandanten).toEqual(MANDANTEN);
    expect(fromFile.konnektor.mandanten).toEqual(MANDANTEN);
    expect(konnektorRunsOnSite(inline.konnektor)).toBe(true);
  });

  test.each([
    ['not JSON', '{nord:', /SIGNFLOW_KONNEKTOR_MANDANTEN: not JSON/],
    ['a list instead of an object', JSON.stringify([MANDANTEN.nord]), /SIGNFLOW_KONNEKTOR_MANDANTEN/],
    ['no queue', JSON.stringify({ nord: { ehba: [A1] } }), /mandanten\.nord\.taskQueue/],
    ['no eHBA', JSON.stringify({ nord: { taskQueue: 'q-nord', ehba: [] } }), /at least one eHBA/],
    [
      'an ICCSN that is not one',
      JSON.stringify({ nord: { taskQueue: 'q-nord', ehba: ['HBA-1'] } }),
      /ICCSN of 19 or 20/,
    ],
    ['an unknown key', JSON.stringify({ nord: { taskQueue: 'q-nord', ehba: [A1], queue: 'x' } }), /queue/],
    [
      'the main queue',
      JSON.stringify({ nord: { taskQueue: 'signflow', ehba: [A1] } }),
      /Mandant nord needs a task queue of its own/,
    ],
    [
      'two Mandanten on one queue',
      JSON.stringify({ nord: { taskQueue: 'q', ehba: [A1] }, sued: { taskQueue: 'q', ehba: [B1] } }),
      /Mandanten nord and sued share task queue q/,
    ],
    [
      'one eHBA in two Mandanten',
      JSON.stringify({ nord: { taskQueue: 'q-nord', ehba: [A1] }, sued: { taskQueue: 'q-sued', ehba: [A1] } }),
      /eHBA 80276001011699910101 is listed for nord and sued/,
    ],
  ])('SIGNFLOW_KONNEKTOR_MANDANTEN with %s is refused, naming the variable', (_what, value, message) => {
    const text = configError({ ...withColumn, SIGNFLOW_KONNEKTOR_MANDANTEN: value });
    expect(text).toMatch(message);
    expect(text).toContain('SIGNFLOW_KONNEKTOR_MANDANTEN');
  });

  test('Mandanten without the CRM column that says whose a contract is are refused', () => {
    const text = configError({ SIGNFLOW_KONNEKTOR_MANDANTEN: JSON.stringify(MANDANTEN) });
    expect(text).toContain('contracts.mandant');
    expect(text).toContain('SIGNFLOW_CRM_MAPPING');
  });

  test('both SIGNFLOW_KONNEKTOR_MANDANTEN and _FILE is refused', () => {
    expect(
      configError({ ...withColumn, SIGNFLOW_KONNEKTOR_MANDANTEN: '{}', SIGNFLOW_KONNEKTOR_MANDANTEN_FILE: mapping })
    ).toContain('not both');
  });

  test('an unreadable SIGNFLOW_KONNEKTOR_MANDANTEN_FILE is named', () => {
    expect(configError({ ...withColumn, SIGNFLOW_KONNEKTOR_MANDANTEN_FILE: path.join(dir, 'missing.json') })).toMatch(
      /SIGNFLOW_KONNEKTOR_MANDANTEN_FILE: cannot read .*missing\.json/
    );
  });
});

describe('the route of one contract', () => {
  const single = (extra: Record<string, unknown> = {}) =>
    loadConfig(
      { konnektor: { taskQueue: 'signflow-konnektor-p1', ...extra }, crm: { contracts: { countersignIccsn: 'ehba' } } },
      {}
    );
  const hosted = () =>
    loadConfig(
      { konnektor: { mandanten: MANDANTEN }, crm: { contracts: { mandant: 'mandant', countersignIccsn: 'ehba' } } },
      {}
    );

  test('one practice: the contract names its eHBA; empty means the default of the input', () => {
    expect(countersignRoute(single(), { iccsn: A1 }, 1, { iccsn: A2 })).toEqual({
      signerWorkflowId: `qes-signer-${A2}`,
      iccsn: A2,
      konnektorTaskQueue: 'signflow-konnektor-p1',
    });
    for (const blank of [null, undefined, '', '  ']) {
      expect(countersignRoute(single(), { iccsn: A1 }, 1, { iccsn: blank })).toMatchObject({ iccsn: A1 });
    }
    // No eHBA anywhere: the Konnektor's first HBA, as before.
    expect(countersignRoute(single(), {}, 1, {})).toEqual({
      signerWorkflowId: 'qes-signer-default',
      konnektorTaskQueue: 'signflow-konnektor-p1',
    });
  });

  test('one worker for everything: no queue in the route', () => {
    const config = loadConfig({}, {});
    expect(countersignRoute(config, { iccsn: A1 }, 1, {})).toEqual({ signerWorkflowId: `qes-signer-${A1}`, iccsn: A1 });
  });

  test("several practices: the Mandant's queue and eHBA; the contract may pick another of its Mandant's eHBAs", () => {
    expect(countersignRoute(hosted(), { iccsn: B1 }, 1, { mandant: 'nord' })).toEqual({
      signerWorkflowId: `qes-signer-${A1}`,
      iccsn: A1,
      konnektorTaskQueue: 'signflow-konnektor-nord',
      mandant: 'nord',
    });
    expect(countersignRoute(hosted(), {}, 1, { mandant: ' nord ', iccsn: A2 })).toMatchObject({ iccsn: A2 });
    expect(countersignRoute(hosted(), {}, 1, { mandant: 'sued' })).toMatchObject({
      iccsn: B1,
      konnektorTaskQueue: 'signflow-konnektor-sued',
    });
  });

  test.each([
    ['no Mandant', { mandant: null }, /contract 7 has no Mandant \(column honorarvertraege\.mandant is empty\)/],
    ['a blank Mandant', { mandant: '  ' }, /has no Mandant/],
    ['an unknown Mandant', { mandant: 'west' }, /Mandant "west", which SIGNFLOW_KONNEKTOR_MANDANTEN does not list/],
    [
      "another Mandant's eHBA",
      { mandant: 'sued', iccsn: A1 },
      /eHBA 80276001011699910101 .* not one of Mandant sued's/,
    ],
  ])('several practices: %s is refused, never routed to another practice', (_what, row, message) => {
    expect(() => countersignRoute(hosted(), { iccsn: A1 }, 7, row)).toThrow(CountersignRouteError);
    expect(() => countersignRoute(hosted(), { iccsn: A1 }, 7, row)).toThrow(message);
  });

  test('a Mandant in the row of a single-practice installation is refused', () => {
    const config = loadConfig({ crm: { contracts: { mandant: 'mandant' } } }, {});
    expect(() => countersignRoute(config, {}, 3, { mandant: 'nord' })).toThrow(
      /SIGNFLOW_KONNEKTOR_MANDANTEN is not set/
    );
  });
});

/**
 * The codec server with the real Temporal CLI (the one `scripts/setup.sh` installs, 1.9.1): the decode command of
 * docs/ops.md must show a workflow's encrypted input in plain text. The CLI sends `{}` for events without payloads;
 * that must not fail the whole command.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Client } from '@temporalio/client';
import { startCodecServer, type RunningCodecServer } from '../../codec/codec-server';
import { createDataConverter } from '../../codec/data-converter';
import { loadConfig } from '../../temporal.config';
import { startDevServer, type DevServerHandle } from '../../harness/temporal';
import { KEY_2026 } from './codec-keys';

const TOKEN = 'codec-cli-test-token-000000';

function temporalCli(): string {
  const env = fs.readFileSync(path.resolve(__dirname, '../../.tools/paths.env'), 'utf8');
  const cli = /TEMPORAL_CLI_PATH='([^']+)'/.exec(env)?.[1];
  if (!cli) throw new Error('.tools/paths.env names no TEMPORAL_CLI_PATH (run scripts/setup.sh)');
  return cli;
}

function run(cli: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cli, args, { timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: unknown }).code ?? 1) : 0, stdout, stderr })
    );
  });
}

describe('codec server with the Temporal CLI', () => {
  let temporal: DevServerHandle;
  let codec: RunningCodecServer;
  let cli: string;

  beforeAll(async () => {
    cli = temporalCli();
    temporal = await startDevServer();
    const config = loadConfig(
      {
        temporal: { address: temporal.address, namespace: temporal.namespace },
        codec: { keys: [KEY_2026], server: { host: '127.0.0.1', port: 0, tokens: [TOKEN] } },
      },
      {}
    );
    codec = await startCodecServer(config);
    // A workflow with encrypted input; no worker needed, its start event holds the payload.
    const client = new Client({
      connection: temporal.env.connection,
      namespace: temporal.namespace,
      dataConverter: createDataConverter(config),
    });
    await client.workflow.start('codecProbe', {
      taskQueue: 'codec-cli-test',
      workflowId: 'codec-cli-probe',
      args: [{ name: 'Jörg Müller', note: 'klartext-nur-mit-codec' }],
    });
  });
  afterAll(async () => {
    await codec?.close();
    await temporal?.stop();
  });

  const show = (extra: string[]) =>
    run(cli, [
      'workflow',
      'show',
      '--workflow-id',
      'codec-cli-probe',
      '--address',
      temporal.address,
      '--namespace',
      temporal.namespace,
      '--output',
      'json',
      ...extra,
    ]);

  /** The start event's input payload, as the CLI printed it (proto JSON: base64 metadata and data). */
  const inputOf = (stdout: string) => {
    const events = (JSON.parse(stdout) as { events: Record<string, any>[] }).events; // eslint-disable-line @typescript-eslint/no-explicit-any
    const p = events[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
    return {
      encoding: Buffer.from(String(p?.metadata?.encoding ?? ''), 'base64').toString(),
      data: Buffer.from(String(p?.data ?? ''), 'base64').toString(),
    };
  };

  test('without the codec the input is ciphertext', async () => {
    const r = await show([]);
    expect(r.code).toBe(0);
    expect(inputOf(r.stdout).encoding).toBe('binary/encrypted');
    expect(inputOf(r.stdout).data).not.toContain('klartext-nur-mit-codec');
  });

  test('`temporal workflow show --codec-endpoint … --codec-auth` decodes it', async () => {
    const r = await show(['--codec-endpoint', codec.endpoint, '--codec-auth', `Bearer ${TOKEN}`]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(inputOf(r.stdout)).toEqual({
      encoding: 'json/plain',
      data: JSON.stringify({ name: 'Jörg Müller', note: 'klartext-nur-mit-codec' }),
    });
  });

  test('`temporal workflow describe` with the codec succeeds', async () => {
    const r = await run(cli, [
      'workflow',
      'describe',
      '--workflow-id',
      'codec-cli-probe',
      '--address',
      temporal.address,
      '--namespace',
      temporal.namespace,
      '--codec-endpoint',
      codec.endpoint,
      '--codec-auth',
      `Bearer ${TOKEN}`,
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('codec-cli-probe');
  });

  test('the `{}` body the CLI sends for no payloads answers an empty list', async () => {
    const res = await fetch(`${codec.endpoint}/decode`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${TOKEN}` },
      body: '{}',
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ payloads: [] });
  });
});

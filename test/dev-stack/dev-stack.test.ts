/**
 * `npm run dev` as a user meets it, on free ports and a temporary data folder: the stack starts, a demo contract
 * started over the API sends its invitation into the inbox folder, Ctrl-C's stop releases every port, and a restart on
 * the same data folder still has the workflow (persistent Temporal state) and the mail.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Connection, WorkflowClient } from '@temporalio/client';
import { startDevStack, type DevStack } from '../../dev-stack/stack';
import { banner } from '../../dev-stack/main';
import { DEV_API_CREDENTIALS } from '../../temporal.config';
import { getFreePort } from '../helpers/temporal';

async function portIsOpen(port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

async function until<T>(
  what: string,
  fn: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 30_000
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('dev stack', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let ports: number[];
  let stack: DevStack | undefined;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'signflow-devstack-'));
    ports = [];
    for (let i = 0; i < 5; i++) ports.push(await getFreePort());
    const [temporal, ui, smtp, inbox, api] = ports.map(String);
    env = {
      ...process.env,
      SIGNFLOW_DATA_DIR: dir,
      SIGNFLOW_DATABASE_URL: '',
      SIGNFLOW_PORTAL_BASE_URL: '',
      SIGNFLOW_DEV_TEMPORAL_PORT: temporal,
      SIGNFLOW_DEV_TEMPORAL_UI_PORT: ui,
      SIGNFLOW_DEV_SMTP_PORT: smtp,
      SIGNFLOW_DEV_INBOX_PORT: inbox,
      SIGNFLOW_API_PORT: api,
    };
  });
  afterAll(async () => {
    await stack?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('starts everything, a demo contract mails its invitation, and stop releases every port', async () => {
    stack = await startDevStack({ env, log: () => undefined });
    const s = stack.summary;
    expect(s.database).toMatchObject({ url: path.join(dir, 'crm.sqlite'), seeded: true });
    expect(s.temporal).toMatchObject({ reused: false, dbFile: path.join(dir, 'temporal.sqlite') });
    expect(fs.existsSync(path.join(dir, 'temporal.sqlite'))).toBe(true);
    const demo = s.database.seed?.contractIds[0];
    expect(demo).toBeDefined();
    expect(banner(s)).toContain(`npm run signflow -- start ${demo}`);

    // The Web UI answers.
    expect((await fetch(s.temporal.uiUrl as string)).status).toBe(200);

    // Start the demo contract the way the banner says, over the API.
    const res = await fetch(`${s.api?.url}/contracts/${demo}/signature-request`, {
      method: 'POST',
      headers: { authorization: `Bearer ${DEV_API_CREDENTIALS.tokens.crm}` },
    });
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({ contractId: demo, workflowId: `honorarvertrag-${demo}` });

    const eml = await until('the invitation .eml', () => {
      const files = fs.existsSync(s.mail.dir) ? fs.readdirSync(s.mail.dir).filter((f) => f.endsWith('.eml')) : [];
      return files[0];
    });
    const raw = fs.readFileSync(path.join(s.mail.dir, eml), 'utf8');
    expect(raw).toMatch(/^To: .*@example\.org/m);
    const listing = await (await fetch(s.mail.inboxUrl)).text();
    expect(listing).toContain('href="/messages/1"');

    await stack.stop();
    stack = undefined;
    for (const port of ports) expect(await portIsOpen(port)).toBe(false);
  });

  test('a restart on the same data folder keeps the running workflow, the mail and the seed', async () => {
    stack = await startDevStack({ env, log: () => undefined });
    const s = stack.summary;
    const demo = s.database.seed?.contractIds[0] as number;

    const connection = await Connection.connect({ address: s.temporal.address });
    try {
      const description = await new WorkflowClient({ connection }).getHandle(`honorarvertrag-${demo}`).describe();
      expect(description.status.name).toBe('RUNNING');
    } finally {
      await connection.close();
    }
    const api = (await (await fetch(`${s.mail.inboxUrl}api/messages`)).json()) as Array<{ id: number }>;
    expect(api.map((m) => m.id)).toEqual([1]);
  });
});

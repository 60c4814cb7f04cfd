/** Webhook endpoint configuration: what a CRM admin writes into SIGNFLOW_WEBHOOKS, and every kind of mistake in it. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../../temporal.config';
import { contractWorkflowInput } from '../../client/contract-client';
import { WEBHOOK_EVENT_TYPES } from '../../domain/webhook-events';
import { subscribedEventTypes, subscribes } from '../../webhooks/webhook-config';

const secret = (bytes = 32): string => `whsec_${randomBytes(bytes).toString('base64')}`;
const endpoint = (over: Record<string, unknown> = {}) => ({
  name: 'crm',
  url: 'https://crm.example/hooks',
  secret: secret(),
  ...over,
});
const fromEnv = (value: unknown) => loadConfig({}, { SIGNFLOW_WEBHOOKS: JSON.stringify(value) });

test('endpoints from SIGNFLOW_WEBHOOKS, with defaults: all events, no personal data', () => {
  const config = fromEnv([endpoint(), endpoint({ name: 'audit', events: ['contract.completed'], personalData: true })]);
  const [crm, audit] = config.webhooks.endpoints;
  expect(crm).toMatchObject({ name: 'crm', events: ['*'], personalData: false });
  expect(subscribes(crm!, 'contract.viewed')).toBe(true);
  expect(subscribes(audit!, 'contract.completed')).toBe(true);
  expect(subscribes(audit!, 'contract.signed')).toBe(false);
  expect(loadConfig({}, {}).webhooks.endpoints).toEqual([]);
});

test('the workflow input names the event types some endpoint subscribes to, and only those', () => {
  const none = loadConfig({}, {});
  expect(contractWorkflowInput(none, 1).webhookEvents).toEqual([]);
  const two = fromEnv([
    endpoint({ name: 'audit', events: ['contract.completed'] }),
    endpoint({ name: 'crm', events: ['contract.signed', 'contract.completed'] }),
  ]);
  expect(contractWorkflowInput(two, 1).webhookEvents).toEqual(['contract.signed', 'contract.completed']);
  expect(subscribedEventTypes(fromEnv([endpoint()]).webhooks.endpoints)).toEqual([...WEBHOOK_EVENT_TYPES]);
});

test('endpoints from SIGNFLOW_WEBHOOKS_FILE', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'signflow-webhooks-config-'));
  const file = path.join(dir, 'webhooks.json');
  fs.writeFileSync(file, JSON.stringify([endpoint()]));
  expect(loadConfig({}, { SIGNFLOW_WEBHOOKS_FILE: file }).webhooks.endpoints[0]?.name).toBe('crm');
  fs.writeFileSync(file, '[{');
  expect(() => loadConfig({}, { SIGNFLOW_WEBHOOKS_FILE: file })).toThrow(/SIGNFLOW_WEBHOOKS_FILE .*not a JSON array/);
  expect(() => loadConfig({}, { SIGNFLOW_WEBHOOKS_FILE: file, SIGNFLOW_WEBHOOKS: '[]' })).toThrow(/not both/);
  fs.rmSync(dir, { recursive: true, force: true });
});

test.each([
  ['an unknown event', [endpoint({ events: ['contract.sined'] })], /unknown event contract\.sined/],
  ['a secret that is not base64', [endpoint({ secret: 'whsec_not base64!' })], /secret must be whsec_/],
  ['a short secret', [endpoint({ secret: secret(8) })], /secret must be 24-64 bytes, is 8/],
  ['a non-http url', [endpoint({ url: 'ftp://crm.example/x' })], /url must be an http\(s\) URL/],
  ['a name used twice', [endpoint(), endpoint()], /endpoint name crm is used twice/],
  ['an unknown field', [endpoint({ personal: true })], /personal/],
  ['not an array', { url: 'https://x' }, /webhooks\.endpoints/],
])('%s is refused at start, naming the field', (_what, value, message) => {
  expect(() => fromEnv(value)).toThrow(message);
});

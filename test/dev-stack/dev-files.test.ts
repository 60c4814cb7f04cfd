/**
 * The dev stack's files in the data folder: the codec key (made once, then always the same) and `dev.env` (read back
 * by a real shell exactly as written), and the switches that turn the simulator off.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { decodeCodecKey } from '../../codec/codec-config';
import { codecKeysEnv, loadOrCreateDevCodecKeys } from '../../dev-stack/dev-codec';
import { writeDevEnvFile } from '../../dev-stack/dev-env-file';
import { devKonnektorEnabled } from '../../dev-stack/dev-konnektor';
import { devStackPorts } from '../../dev-stack/stack';
import { loadConfig } from '../../temporal.config';

describe('dev stack files', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'signflow-devfiles-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('the dev codec key is made once (0600) and read back unchanged; the config accepts it', () => {
    const first = loadOrCreateDevCodecKeys(dir, new Date('2026-11-23T10:00:00Z'));
    expect(first).toMatchObject({ created: true, currentKeyId: 'dev-20261123' });
    expect(decodeCodecKey(first.keys[0]!)).toHaveLength(32);
    expect(fs.statSync(first.file).mode & 0o777).toBe(0o600);

    const again = loadOrCreateDevCodecKeys(dir, new Date('2027-01-01T10:00:00Z'));
    expect(again).toMatchObject({ created: false, currentKeyId: 'dev-20261123', keys: first.keys });

    const config = loadConfig({}, { SIGNFLOW_CODEC_KEYS: codecKeysEnv(again.keys) });
    expect(config.codec.currentKeyId).toBe('dev-20261123');
  });

  test('a damaged key file stops the start instead of silently making a new key', () => {
    fs.writeFileSync(path.join(dir, 'codec-keys.json'), '{"keys":[{"id":"dev-x","key":"c2hvcnQ="}]}');
    expect(() => loadOrCreateDevCodecKeys(dir)).toThrow(/exactly 32 bytes/);
    fs.writeFileSync(path.join(dir, 'codec-keys.json'), 'not json');
    expect(() => loadOrCreateDevCodecKeys(dir)).toThrow(/not readable as JSON/);
  });

  test('dev.env reads back in sh exactly as written, quotes and spaces included', () => {
    const vars = { A_PLAIN: 'x:y/z=1,2', B_QUOTE: 'it\'s "quoted" $HOME `x`', C_UNSET: undefined };
    const file = writeDevEnvFile(dir, vars);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const out = spawnSync(
      'sh',
      ['-c', `set -a; . "${file}"; set +a; printf '%s\\n%s\\n%s' "$A_PLAIN" "$B_QUOTE" "\${C_UNSET-unset}"`],
      {
        encoding: 'utf8',
        env: { PATH: process.env.PATH ?? '' },
      }
    );
    expect(out.stdout.split('\n')).toEqual([vars.A_PLAIN, vars.B_QUOTE, 'unset']);
  });

  test('switches and ports from the environment', () => {
    expect(devKonnektorEnabled({})).toBe(true);
    expect(devKonnektorEnabled({ SIGNFLOW_DEV_KONNEKTOR: 'off' })).toBe(false);
    expect(devKonnektorEnabled({ SIGNFLOW_DEV_KONNEKTOR: 'on' })).toBe(true);
    expect(devStackPorts({})).toEqual({
      temporal: 7233,
      temporalUi: 8233,
      smtp: 2525,
      inboxPage: 8025,
      api: 3000,
      codec: 8888,
      konnektorSim: 8443,
      konnektorSimAdmin: 8444,
      webhooks: 8026,
    });
    expect(() => devStackPorts({ SIGNFLOW_CODEC_SERVER_PORT: 'eighty' })).toThrow(/SIGNFLOW_CODEC_SERVER_PORT/);
  });
});

/** The `konnektor` config section from SIGNFLOW_KONNEKTOR_* variables, and a client built from it reaching the simulator. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createKonnektorClient } from '../../activities/konnektor/client-from-config';
import { startKonnektorSimulator, type RunningKonnektorSimulator } from '../../konnektor-simulator';
import { loadConfig } from '../../temporal.config';

describe('konnektor configuration', () => {
  let sim: RunningKonnektorSimulator;
  let dir: string;

  beforeAll(async () => {
    sim = await startKonnektorSimulator({ adminPort: false });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'signflow-konnektor-cfg-'));
  });

  afterAll(async () => {
    await sim.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('defaults', () => {
    const k = loadConfig({}, {}).konnektor;
    expect(k).toMatchObject({
      enabled: false,
      clientSystemId: 'Z1',
      mandantId: 'Mandant1',
      workplaceId: 'Arbeitsplatz1',
      batchSize: 50,
      callTimeout: 60_000,
      documentTimeout: 5_000,
      activationTimeout: 300_000,
      devInsecure: false,
      rewriteEndpoints: false,
    });
  });

  test('from the environment, then to a working client (ZIP + CA + identity)', async () => {
    const zipPath = path.join(dir, 'Z1.zip');
    const caPath = path.join(dir, 'ca.pem');
    fs.writeFileSync(zipPath, sim.clientZip);
    fs.writeFileSync(caPath, sim.caPem);
    const config = loadConfig(
      {},
      {
        SIGNFLOW_QES_ENABLED: 'true',
        SIGNFLOW_KONNEKTOR_SDS_URL: sim.sdsUrl,
        SIGNFLOW_KONNEKTOR_CLIENT_ZIP: zipPath,
        SIGNFLOW_KONNEKTOR_CA_PATH: caPath,
        SIGNFLOW_KONNEKTOR_SERVER_IDENTITY: 'konnektor.konlan',
        SIGNFLOW_KONNEKTOR_BATCH_SIZE: '80',
        SIGNFLOW_KONNEKTOR_CALL_TIMEOUT: '30s',
      }
    );
    expect(config.konnektor).toMatchObject({
      enabled: true,
      batchSize: 80,
      callTimeout: 30_000,
      caPath,
      clientZipPath: zipPath,
    });
    const client = createKonnektorClient(config.konnektor);
    try {
      expect(client.maxRequestsPerCall).toBe(80);
      expect((await client.findHbaCard()).iccsn).toBe(sim.hbaIccsn);
    } finally {
      client.close();
    }
  });

  test('invalid values fail at start, naming the field', () => {
    expect(() => loadConfig({}, { SIGNFLOW_KONNEKTOR_BATCH_SIZE: '500' })).toThrow(/konnektor.batchSize/);
    expect(() => loadConfig({}, { SIGNFLOW_KONNEKTOR_USER: 'not-a-uuid' })).toThrow(/konnektor.userId/);
    expect(() => createKonnektorClient(loadConfig({}, {}).konnektor)).toThrow(/SIGNFLOW_KONNEKTOR_SDS_URL/);
  });
});

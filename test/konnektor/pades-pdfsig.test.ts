/**
 * The simulator's PAdES signature as poppler reads it: `pdfsig` verifies it and prints no "Syntax Error" about the
 * signed PDF (the names the signature dictionary writes must be valid PDF names).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startKonnektorSimulator } from '../../konnektor-simulator';
import { clientFor, makePdf } from './helpers';

const pdfsigMissing = spawnSync('pdfsig', ['-v'], { encoding: 'utf8' }).error !== undefined;
if (pdfsigMissing && process.env.CI === 'true') throw new Error('pdfsig (poppler-utils) is needed under CI=true');

function pdfsig(pdf: Buffer): { stdout: string; stderr: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'signflow-pdfsig-'));
  try {
    const file = path.join(dir, 'signed.pdf');
    fs.writeFileSync(file, pdf);
    const r = spawnSync('pdfsig', [file], { encoding: 'utf8' });
    return { stdout: r.stdout, stderr: r.stderr };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

(pdfsigMissing ? test.skip : test)('a PAdES QES verifies with pdfsig, without any syntax error', async () => {
  const sim = await startKonnektorSimulator({ adminPort: false });
  const client = clientFor(sim);
  try {
    const card = await client.findHbaCard();
    const { userId } = await client.activateComfortSignature(card.cardHandle);
    const pdf = await makePdf('Honorarvertrag 42');
    const res = await client.signDocuments(card.cardHandle, userId, [
      { requestId: 'p1', document: pdf, mimeType: 'application/pdf', shortText: 'Vertrag 42' },
    ]);
    const signed = res.results[0]!.signature;
    const out = pdfsig(signed);
    expect(out.stdout).toMatch(/Signature Validation: Signature is Valid\./);
    expect(out.stdout).toMatch(/Signature Type: ETSI\.CAdES\.detached/);
    expect(`${out.stdout}\n${out.stderr}`).not.toMatch(/Syntax Error/i);
  } finally {
    client.close();
    await sim.close();
  }
});

/**
 * The simulator's PAdES signature as poppler reads it: `pdfsig` prints no "Syntax Error" about the signed PDF (the names
 * the signature dictionary writes must be valid PDF names) and verifies the RSA signature.
 *
 * poppler checks signatures with NSS, which does not verify ECDSA on brainpool curves (poppler 22.12 says "Signature is
 * Invalid" for a brainpoolP256r1 signature, also for one made by OpenSSL, and "Valid" for the same CMS on P-256). So the
 * validity check runs on the RSA option (`hba.qesKey: 'RSA'`); the default ECDSA PDF must still parse without a syntax
 * error, and is verified by OpenSSL and signflow's verifier in ecdsa-signature.test.ts.
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

async function signedPdfFrom(hbaKey: 'ECC' | 'RSA'): Promise<Buffer> {
  const sim = await startKonnektorSimulator({ adminPort: false, hba: { qesKey: hbaKey } });
  const client = clientFor(sim);
  try {
    const card = await client.findHbaCard();
    const { userId } = await client.activateComfortSignature(card.cardHandle);
    const pdf = await makePdf('Honorarvertrag 42');
    const res = await client.signDocuments(card.cardHandle, userId, [
      { requestId: 'p1', document: pdf, mimeType: 'application/pdf', shortText: 'Vertrag 42' },
    ]);
    return res.results[0]!.signature;
  } finally {
    client.close();
    await sim.close();
  }
}

(pdfsigMissing ? test.skip : test)(
  'a PAdES QES (RSA option) verifies with pdfsig, without any syntax error',
  async () => {
    const out = pdfsig(await signedPdfFrom('RSA'));
    expect(out.stdout).toMatch(/Signature Validation: Signature is Valid\./);
    expect(out.stdout).toMatch(/Signature Type: ETSI\.CAdES\.detached/);
    expect(`${out.stdout}\n${out.stderr}`).not.toMatch(/Syntax Error/i);
  }
);

(pdfsigMissing ? test.skip : test)(
  'a PAdES QES with ECDSA brainpoolP256r1 (the default) is read by pdfsig without any syntax error',
  async () => {
    const out = pdfsig(await signedPdfFrom('ECC'));
    expect(out.stdout).toMatch(/Signature Type: ETSI\.CAdES\.detached/);
    expect(out.stdout).toMatch(/Signer Certificate Common Name: Dr\. Erika Mustermann/);
    expect(out.stdout).toMatch(/Signature Validation: /);
    expect(`${out.stdout}\n${out.stderr}`).not.toMatch(/Syntax Error/i);
  }
);

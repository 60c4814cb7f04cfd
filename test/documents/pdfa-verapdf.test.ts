/**
 * The contract document and the Prüfprotokoll are PDF/A-3b as veraPDF (the PDF Association's reference validator) sees
 * them, not just as their XMP claims. veraPDF is installed by scripts/install-verapdf.sh (from the setup) into
 * .tools/verapdf. Where Java is missing the test skips and says so, except under CI=true, where Java is part of the
 * machine and the test must run.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PNG } from 'pngjs';
import { renderCertificate, type CertificateData } from '../../documents/render-certificate';
import { renderContractDocument } from '../../documents/render-contract';
import { verapdf, withJava } from '../helpers/verapdf';

const describeWithJava = withJava ? describe : describe.skip;

/** A small drawn signature: a dark stroke on a transparent background, as the portal's pad sends it. */
function signaturePng(): Buffer {
  const png = new PNG({ width: 120, height: 40 });
  for (let x = 5; x < 115; x++) {
    const y = 20 + Math.round(10 * Math.sin(x / 9));
    const i = (png.width * y + x) << 2;
    png.data[i] = 20;
    png.data[i + 1] = 20;
    png.data[i + 2] = 80;
    png.data[i + 3] = 255;
  }
  return PNG.sync.write(png);
}

describeWithJava('PDF/A-3b according to veraPDF', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'signflow-pdfa-'));
  });
  afterAll(() => dir && fs.rmSync(dir, { recursive: true, force: true }));

  test('the contract document and the Prüfprotokoll (with a drawn signature and a QES) are compliant', async () => {
    const contract = await renderContractDocument({
      contractId: 7,
      practiceName: 'Praxis Müller & Söhne',
      title: 'Honorarvertrag Logopädie <Ergänzung>',
      freelancerName: 'Anna Müller',
      start: '2027-01-01',
      end: '2027-12-31',
      feeCents: 123456,
      description: 'Therapie – „Sprachförderung“ für Kinder, 2× wöchentlich.\nZweite Zeile.',
      createdAt: new Date('2026-11-30T09:00:00Z'),
    });
    const data: CertificateData = {
      contractId: 7,
      contractTitle: 'Honorarvertrag Logopädie',
      practiceName: 'Praxis Müller',
      documentId: 11,
      documentTitle: 'Honorarvertrag Logopädie',
      documentSha256: 'a'.repeat(64),
      signatureMd5: 'b'.repeat(32),
      pageCount: 1,
      events: [
        { at: new Date('2026-11-30T09:00:01Z'), label: 'Einladung gesendet', details: ['an anna@example.org'] },
        {
          at: new Date('2026-11-30T10:00:00Z'),
          label: 'Unterschrieben mit gezeichneter Unterschrift (Bild)',
          details: ['IP-Adresse (vom Portal übermittelt): 203.0.113.7'],
          image: signaturePng(),
        },
        {
          at: new Date('2026-11-30T11:00:00Z'),
          label: 'Qualifiziert elektronisch gegengezeichnet (QES der Praxis)',
          details: ['Zertifikat: CN=Dr. Max Beispiel, C=DE', 'Signaturformat: PAdES (ETSI.CAdES.detached)'],
        },
      ],
      workflowId: 'honorarvertrag-7',
      runId: 'run-1',
      createdAt: new Date('2026-11-30T12:00:00Z'),
    };
    const certificate = await renderCertificate(data);
    const contractFile = path.join(dir, 'contract.pdf');
    const certificateFile = path.join(dir, 'certificate.pdf');
    fs.writeFileSync(contractFile, contract.pdf);
    fs.writeFileSync(certificateFile, certificate);
    // A known-bad file proves the validator really checks: the same contract without its XMP PDF/A identification.
    const broken = Buffer.from(contract.pdf.toString('latin1').replace(/pdfaid:part>3</, 'pdfaid:part>9<'), 'latin1');
    const brokenFile = path.join(dir, 'broken.pdf');
    fs.writeFileSync(brokenFile, broken);

    const results = await verapdf([contractFile, certificateFile, brokenFile]);
    expect(results.get(contractFile)).toEqual({ compliant: true, failedRules: [] });
    expect(results.get(certificateFile)).toEqual({ compliant: true, failedRules: [] });
    expect(results.get(brokenFile)?.compliant).toBe(false);
  }, 180_000);
});

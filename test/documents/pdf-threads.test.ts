/**
 * PDF rendering on the pool's threads (documents/pdf-threads.ts): the bytes are those of rendering on the calling
 * thread (documents stay deterministic, their hashes recomputable), also with many renders at once.
 */
import {
  renderContractDocument,
  renderContractHtml,
  renderTextBlocksPdfHere,
  textBlocks,
  type ContractDocumentData,
} from '../../documents/render-contract';
import {
  DEFAULT_PDF_THREAD_IDLE_MS,
  pdfThreadIdleMs,
  runningPdfThreads,
  setPdfThreadIdleMs,
} from '../../documents/pdf-threads';
import { eventually } from '../helpers/waits';

const data = (contractId: number): ContractDocumentData => ({
  contractId,
  practiceName: 'Praxis am Park',
  title: `Honorarvertrag Rückenschule ${contractId}`,
  freelancerName: 'Lena Größer',
  start: '2027-01-01',
  end: '2027-06-30',
  feeCents: 123456,
  description: 'Kursleitung, 12 Termine à 90 Minuten',
  createdAt: new Date('2026-11-30T08:00:00.000Z'),
});

test('a document rendered on a pool thread has the bytes of one rendered here, also eight at once', async () => {
  const ids = [1, 2, 3, 4, 5, 6, 7, 8];
  const offThread = await Promise.all(ids.map((id) => renderContractDocument(data(id))));
  for (const [i, id] of ids.entries()) {
    const here = await renderTextBlocksPdfHere(textBlocks(renderContractHtml(data(id))), {
      title: `Honorarvertrag ${id}`,
      createdAt: data(id).createdAt,
    });
    expect(offThread[i]?.pdf.equals(here)).toBe(true);
  }
  // Different contracts, different documents: the answers are not mixed up between concurrent renders.
  expect(new Set(offThread.map((r) => r.pdf.toString('base64'))).size).toBe(ids.length);
});

test('the idle time is 60 s unless set, and only a positive whole number of ms is taken', () => {
  expect(pdfThreadIdleMs()).toBe(DEFAULT_PDF_THREAD_IDLE_MS);
  expect(DEFAULT_PDF_THREAD_IDLE_MS).toBe(60_000);
  for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
    expect(() => setPdfThreadIdleMs(bad)).toThrow(RangeError);
  }
  expect(pdfThreadIdleMs()).toBe(DEFAULT_PDF_THREAD_IDLE_MS);
});

test('a thread idle for less than the idle time stays', async () => {
  setPdfThreadIdleMs(DEFAULT_PDF_THREAD_IDLE_MS);
  await renderContractDocument(data(41));
  const running = runningPdfThreads();
  expect(running).toBeGreaterThan(0);
  // Long against the event loop, short against the 60 s (the old idle end came after 10 s of a busy machine's time).
  await new Promise((r) => setTimeout(r, 1500));
  expect(runningPdfThreads()).toBe(running);
});

test('an idle thread ends (its memory with it) and the next render starts a fresh one with the same bytes', async () => {
  // A short idle time, so that the test does not wait a minute; the setting applies from the next idle period.
  setPdfThreadIdleMs(1000);
  const first = await renderContractDocument(data(42));
  expect(runningPdfThreads()).toBeGreaterThan(0);
  // Waits for the state, however long the idle period plus a busy machine take.
  await eventually(async () => expect(runningPdfThreads()).toBe(0), 120_000, 500);
  const again = await renderContractDocument(data(42));
  expect(runningPdfThreads()).toBe(1);
  expect(again.pdf.equals(first.pdf)).toBe(true);
}, 180_000);

test('a render that arrives while the idle thread is still being ended goes to the fresh thread and succeeds', async () => {
  const first = await renderContractDocument(data(43));
  // The moment the idle thread is retired (its end is then still under way), not half a second later.
  while (runningPdfThreads() > 0) await new Promise((resolve) => setTimeout(resolve, 2));
  const again = await renderContractDocument(data(43));
  expect(again.pdf.equals(first.pdf)).toBe(true);
}, 180_000);

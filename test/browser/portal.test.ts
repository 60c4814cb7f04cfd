/**
 * The dev signing page in headless Chromium (Debian's package, driven by playwright-core) against the real API, the
 * real Temporal dev server and a real worker: the invitation mail's link opens the document, a click signature on a
 * wide screen, a drawn signature (touch and mouse) on a phone-sized screen, the pending list, and the wrong-signer
 * rejection shown to the user. The database is checked after each signature.
 *
 * Without /usr/bin/chromium the suite is skipped with a message, except under CI=true, where that is a failure
 * (`apt-get install -y chromium`).
 */
import fs from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { PNG } from 'pngjs';
import { toBool } from '../../db/crm-repository';
import { addSendableContract } from '../helpers/contract-stack';
import { startDevServer, type DevServerHandle } from '../../harness/temporal';
import { startApiStack, type ApiStack } from '../api/api-stack';

jest.setTimeout(120_000);

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

const haveChromium = fs.existsSync(CHROMIUM);
if (!haveChromium) {
  if (process.env.CI === 'true') {
    throw new Error(`${CHROMIUM} is missing under CI=true: the browser tests must run (apt-get install -y chromium)`);
  }
  console.warn(
    `${CHROMIUM} is missing: browser tests SKIPPED. Install Debian's chromium (apt-get install -y chromium).`
  );
}
const describeBrowser = haveChromium ? describe : describe.skip;

describeBrowser('dev signing page in headless Chromium', () => {
  let server: DevServerHandle;
  let api: ApiStack;
  let browser: Browser;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    server = await startDevServer();
    api = await startApiStack(server, { db: 'sqlite', dev: true });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 60_000 });
  });

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await api?.stop();
    await server?.stop();
  });

  async function newPage(kind: 'desktop' | 'phone'): Promise<Page> {
    const context = await browser.newContext(
      kind === 'desktop'
        ? { viewport: { width: 1280, height: 900 }, locale: 'de-DE' }
        : {
            viewport: { width: 390, height: 844 },
            isMobile: true,
            hasTouch: true,
            deviceScaleFactor: 2,
            locale: 'de-DE',
          }
    );
    contexts.push(context);
    const page = await context.newPage();
    page.setDefaultTimeout(20_000);
    return page;
  }

  /** Starts a fresh contract through the API and returns the link of its invitation mail. */
  async function invitedContract(): Promise<{ contractId: number; contactId: number; link: string }> {
    const contactId = api.stack.t.seed.contactIds[0] as number;
    const contractId = await addSendableContract(api.stack.t, contactId);
    const started = await api.call('POST', `/api/v1/contracts/${contractId}/signature-request`, { as: 'crm' });
    expect(started.status).toBe(202);
    const mail = await api.stack.waitForMail(
      (m) => m.headers['x-signflow-mail-key'] === `honorarvertrag-${contractId}:invitation`
    );
    const link = /https?:\/\/\S+\/portal\/dokumente\/\d+/.exec(mail.text)?.[0];
    if (!link) throw new Error(`no portal link in the invitation mail:\n${mail.text}`);
    return { contractId, contactId, link };
  }

  async function signatureOf(contractId: number): Promise<Record<string, unknown>> {
    const s = api.config.crm.signatures;
    const row = await api.stack.t
      .db(s.table)
      .where(s.linkedObjectType, api.config.crm.values.contractObjectType)
      .where(s.linkedObjectId, contractId)
      .first();
    return row as Record<string, unknown>;
  }

  /** A stroke by touch through the DevTools protocol (a finger on the phone's screen). */
  async function touchStroke(page: Page, points: { x: number; y: number }[]): Promise<void> {
    const cdp = await page.context().newCDPSession(page);
    const [first, ...rest] = points;
    await cdp.send('Input.dispatchTouchEvent', { type: 'touchStart', touchPoints: [first!] });
    for (const p of rest) await cdp.send('Input.dispatchTouchEvent', { type: 'touchMove', touchPoints: [p] });
    await cdp.send('Input.dispatchTouchEvent', { type: 'touchEnd', touchPoints: [] });
    await cdp.detach();
  }

  async function mouseStroke(page: Page, points: { x: number; y: number }[]): Promise<void> {
    const [first, ...rest] = points;
    await page.mouse.move(first!.x, first!.y);
    await page.mouse.down();
    for (const p of rest) await page.mouse.move(p.x, p.y, { steps: 3 });
    await page.mouse.up();
  }

  test('click signature on a wide screen, from the invitation link to the database', async () => {
    const { contractId, contactId, link } = await invitedContract();
    const page = await newPage('desktop');
    const response = await page.goto(link);
    expect(response?.status()).toBe(200);
    await expect(page.locator('#kontakt-name').textContent()).resolves.toBe('Anna Müller');
    // The document's HTML rendition is shown (sandboxed) with the contract's own text.
    const frame = page.frameLocator('#dokument');
    await expect(frame.locator('body').innerText()).resolves.toContain('Honorarvertrag');
    // No signature pad on a wide screen.
    expect(await page.locator('#pad').isVisible()).toBe(false);

    const button = page.getByRole('button', { name: 'Unterschrift jetzt setzen' });
    expect(await button.isDisabled()).toBe(true);
    await page.getByLabel('Dieses Dokument unterzeichnen').check();
    expect(await button.isEnabled()).toBe(true);
    await button.click();
    await page.locator('#meldung.ok').waitFor();
    expect(await page.locator('#meldung').textContent()).toMatch(/^Vielen Dank! Unterschrift gesetzt am /);
    expect(await page.locator('#unterschrift-status').textContent()).toBe('gültig');

    const s = api.config.crm.signatures;
    const sig = await signatureOf(contractId);
    expect(sig[s.status]).toBe(api.config.crm.values.signatureValid);
    expect(toBool(sig[s.byAuthenticatedClick], api.config.crm)).toBe(true);
    expect(Number(sig[s.userId])).toBe(contactId);
    expect(sig[s.image]).toBeNull();

    // Reloaded, the page knows the signature is valid and offers no form any more.
    await page.reload();
    expect(await page.locator('#unterschrift-status').textContent()).toBe('gültig');
    expect(await page.locator('#sign').count()).toBe(0);
  });

  test('drawn signature on a phone: touch and mouse strokes, "zurücksetzen", the PNG in the database', async () => {
    const { contractId, contactId, link } = await invitedContract();
    const page = await newPage('phone');
    await page.goto(link);
    const canvas = page.locator('#signature-pad');
    await canvas.waitFor({ state: 'visible' });
    const box = (await canvas.boundingBox())!;
    const at = (fx: number, fy: number) => ({ x: box.x + box.width * fx, y: box.y + box.height * fy });

    // A first attempt, then "zurücksetzen" wipes it.
    await mouseStroke(page, [at(0.1, 0.9), at(0.9, 0.1)]);
    expect(await canvas.getAttribute('data-strokes')).toBe('1');
    await page.getByRole('button', { name: 'zurücksetzen' }).click();
    expect(await canvas.getAttribute('data-strokes')).toBe('0');

    // The signature: one stroke by finger, one by mouse, both in the upper half.
    await touchStroke(page, [at(0.1, 0.3), at(0.3, 0.15), at(0.5, 0.35), at(0.7, 0.15), at(0.9, 0.3)]);
    await mouseStroke(page, [at(0.15, 0.4), at(0.5, 0.45), at(0.85, 0.4)]);
    expect(await canvas.getAttribute('data-strokes')).toBe('2');

    await page.getByLabel('Dieses Dokument unterzeichnen').check();
    await page.getByRole('button', { name: 'Unterschrift jetzt setzen' }).click();
    await page.locator('#meldung.ok').waitFor();

    const s = api.config.crm.signatures;
    const d = api.config.crm.documents;
    const sig = await signatureOf(contractId);
    expect(sig[s.status]).toBe(api.config.crm.values.signatureValid);
    expect(toBool(sig[s.byAuthenticatedClick], api.config.crm)).toBe(false);
    expect(Number(sig[s.userId])).toBe(contactId);
    const image = await api.stack.t.db(d.table).where(d.id, Number(sig[s.image])).first();
    expect(image[d.mimeType]).toBe('image/png');
    const png = PNG.sync.read(Buffer.from(image[d.content]));
    expect(png.width).toBeGreaterThan(300);
    // Dark pixels where the strokes were, none where only the wiped first attempt was (lower left corner).
    const dark = (x0: number, y0: number, x1: number, y1: number) => {
      let n = 0;
      for (let y = Math.floor(png.height * y0); y < png.height * y1; y++) {
        for (let x = Math.floor(png.width * x0); x < png.width * x1; x++) {
          const i = (y * png.width + x) * 4;
          if (png.data[i]! < 128 && png.data[i + 1]! < 128 && png.data[i + 2]! < 128) n++;
        }
      }
      return n;
    };
    expect(dark(0, 0, 1, 0.5)).toBeGreaterThan(50);
    expect(dark(0, 0.6, 0.3, 1)).toBe(0);
  });

  test('the pending list links to the documents; a signed one disappears', async () => {
    const { contractId, contactId, link } = await invitedContract();
    const page = await newPage('desktop');
    const listUrl = `${api.url}/portal/kontakte/${contactId}/ausstehend`;
    expect((await page.goto(listUrl))?.status()).toBe(200);
    await page.locator('#ausstehend:not([aria-busy])').waitFor();
    const documentPath = new URL(link).pathname;
    const entry = page.locator(`#ausstehend a[href="${documentPath}"]`);
    expect(await entry.count()).toBe(1);
    await entry.click();
    await page.waitForURL(`**${documentPath}`);
    await page.getByLabel('Dieses Dokument unterzeichnen').check();
    await page.getByRole('button', { name: 'Unterschrift jetzt setzen' }).click();
    await page.locator('#meldung.ok').waitFor();
    expect((await signatureOf(contractId))[api.config.crm.signatures.status]).toBe('gültig');

    await page.goto(listUrl);
    await page.locator('#ausstehend:not([aria-busy])').waitFor();
    expect(await page.locator(`#ausstehend a[href="${documentPath}"]`).count()).toBe(0);
  });

  test('another contact cannot sign: the API refusal is shown, nothing changes', async () => {
    const { contractId, link } = await invitedContract();
    const other = api.stack.t.seed.contactIds[1] as number;
    const page = await newPage('desktop');
    await page.goto(`${link}?kontakt=${other}`);
    await expect(page.locator('#kontakt-name').textContent()).resolves.not.toBe('Anna Müller');
    await page.getByLabel('Dieses Dokument unterzeichnen').check();
    await page.getByRole('button', { name: 'Unterschrift jetzt setzen' }).click();
    await page.locator('#meldung.fehler').waitFor();
    expect(await page.locator('#meldung').textContent()).toMatch(
      /^Die Unterschrift wurde nicht angenommen: .*may not sign/
    );
    expect((await signatureOf(contractId))[api.config.crm.signatures.status]).toBe(
      api.config.crm.values.signaturePending
    );
  });

  test('an unknown document answers 404', async () => {
    const page = await newPage('desktop');
    const response = await page.goto(`${api.url}/portal/dokumente/99999999`);
    expect(response?.status()).toBe(404);
    expect(await page.locator('h1').textContent()).toBe('Nicht gefunden');
  });
});

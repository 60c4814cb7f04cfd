/**
 * The failure converter of every signflow client and worker when payloads are encrypted: failure messages and stack
 * traces go into an encoded payload (and so through the AES-GCM codec) instead of staying in the clear, because a
 * message such as "Kontakt 12 (anna@example.org) …" is personal data too.
 *
 * Loaded by path (`DataConverter.failureConverterPath`), also inside the workflow sandbox: import nothing but
 * @temporalio/common here.
 */
import { DefaultFailureConverter } from '@temporalio/common';

export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });

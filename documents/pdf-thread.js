// One PDF rendering thread of documents/pdf-threads.ts. Plain JavaScript so it starts the same under tsx, jest and
// node: it installs tsx's require hook itself, then renders with the same code the main thread would.
'use strict';
const { parentPort } = require('node:worker_threads');

require('tsx/cjs');
const { renderTextBlocksPdfHere } = require('./render-contract.ts');

parentPort.on('message', (job) => {
  // A Buffer arrives as a plain Uint8Array; pdfkit's image() wants a Buffer.
  const blocks = job.blocks.map((b) =>
    b.tag === 'img' ? { ...b, image: Buffer.from(b.image.buffer, b.image.byteOffset, b.image.byteLength) } : b
  );
  renderTextBlocksPdfHere(blocks, job.data).then(
    (pdf) => parentPort.postMessage({ id: job.id, pdf }),
    (err) =>
      parentPort.postMessage({ id: job.id, error: { name: err && err.name, message: String(err && err.message) } })
  );
});

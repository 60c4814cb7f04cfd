// One PDF rendering thread of documents/pdf-threads.ts. Plain JavaScript so it starts the same under tsx, jest and
// node: from the sources it installs tsx's require hook itself; in the production build (`npm run build` copies this
// file beside the compiled render-contract.js) it loads the compiled code without tsx. Either way it renders with the
// same code the main thread would.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { parentPort } = require('node:worker_threads');

const compiled = path.join(__dirname, 'render-contract.js');
let renderTextBlocksPdfHere;
if (fs.existsSync(compiled)) {
  ({ renderTextBlocksPdfHere } = require(compiled));
} else {
  require('tsx/cjs');
  ({ renderTextBlocksPdfHere } = require('./render-contract.ts'));
}

parentPort.on('message', (job) => {
  // A Buffer arrives as a plain Uint8Array; pdfkit's image() wants a Buffer.
  const blocks = job.blocks.map((b) =>
    b.tag === 'img' ? { ...b, image: Buffer.from(b.image.buffer, b.image.byteOffset, b.image.byteLength) } : b
  );
  renderTextBlocksPdfHere(blocks, job.data).then(
    (pdf) => {
      // Handed over, not copied: the PDF's own memory moves to the main thread. Only a buffer that is the whole of its
      // ArrayBuffer may move (a small Buffer lives in Node's shared pool), anything else is copied once first.
      const own = pdf.byteOffset === 0 && pdf.byteLength === pdf.buffer.byteLength ? pdf : new Uint8Array(pdf);
      parentPort.postMessage({ id: job.id, pdf: own }, [own.buffer]);
    },
    (err) =>
      parentPort.postMessage({ id: job.id, error: { name: err && err.name, message: String(err && err.message) } })
  );
});

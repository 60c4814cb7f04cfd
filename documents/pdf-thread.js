// One PDF rendering thread of documents/pdf-threads.ts. Plain JavaScript so it starts the same under tsx, jest and
// node: it installs tsx's require hook itself, then renders with the same code the main thread would.
'use strict';
const { parentPort } = require('node:worker_threads');

require('tsx/cjs');
const { renderTextBlocksPdfHere } = require('./render-contract.ts');

parentPort.on('message', (job) => {
  renderTextBlocksPdfHere(job.blocks, job.data).then(
    (pdf) => parentPort.postMessage({ id: job.id, pdf }),
    (err) =>
      parentPort.postMessage({ id: job.id, error: { name: err && err.name, message: String(err && err.message) } })
  );
});

#!/usr/bin/env node
// The `signflow` command from a checkout: runs cli/main.ts through tsx, no build step. Importing `tsx` installs the
// same hooks as `node --import tsx` (CommonJS `require()` and dynamic `import()` of .ts files, as lazy verbs do).
'use strict';
const path = require('node:path');

// The Node versions signflow supports (package.json `engines`, README): 20.3 (the Temporal SDK's floor) and later.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 3)) {
  console.error(
    `signflow: Node ${process.versions.node} is too old; signflow needs Node 20.3 or later (20 LTS or 22 LTS). ` +
      '[CONFIG_INVALID]'
  );
  process.exit(5);
}

import('tsx')
  .then(() => require(path.join(__dirname, '..', 'cli', 'main.ts')).main(process.argv.slice(2)))
  .then(
    (code) => {
      process.exitCode = code;
    },
    (err) => {
      console.error(err);
      process.exitCode = 70;
    }
  );

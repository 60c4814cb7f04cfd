#!/usr/bin/env node
// The `signflow` command from a checkout: runs cli/main.ts through tsx, no build step. Importing `tsx` installs the
// same hooks as `node --import tsx` (CommonJS `require()` and dynamic `import()` of .ts files, as lazy verbs do).
'use strict';
const path = require('node:path');

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

#!/usr/bin/env node
// The `signflow` command from a checkout: runs cli/main.ts through tsx's CommonJS register hook, no build step.
'use strict';
const path = require('node:path');
const { register } = require('tsx/cjs/api');

register();
const { main } = require(path.join(__dirname, '..', 'cli', 'main.ts'));
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    console.error(err);
    process.exitCode = 70;
  }
);

#!/usr/bin/env node
'use strict';
// The `sept` command: the built CLI (`npm run build`; `npm start` and `npm test` build when stale).
const main = require('node:path').join(__dirname, '..', 'dist', 'cli', 'main.js');
if (!require('node:fs').existsSync(main)) {
  console.error('sept: no build in dist/: run `npm run build` first');
  process.exit(1);
}
require(main);

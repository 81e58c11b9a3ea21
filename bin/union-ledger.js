#!/usr/bin/env node
'use strict';
// The operators' command. It runs the compiled CLI; `npm run build` (or `npm start`) compiles it.
const path = require('node:path');
const fs = require('node:fs');

const compiled = path.join(__dirname, '..', 'dist', 'src', 'cli', 'main.js');
if (!fs.existsSync(compiled)) {
  process.stderr.write('union-ledger is not built yet: run `npm run build` in ' + path.dirname(__dirname) + '\n');
  process.exit(2);
}
require(compiled).runCli(process.argv);

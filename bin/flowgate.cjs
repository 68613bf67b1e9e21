#!/usr/bin/env node
// The `flowgate` command (npx flowgate ...): runs the built CLI from dist/cjs; `flowgate --help` lists the commands.
'use strict';

let cli;
try {
  cli = require('../dist/cjs/src/cli/main.js');
} catch (error) {
  if (error && error.code === 'MODULE_NOT_FOUND' && String(error.message).includes('cli/main.js')) {
    process.stderr.write('flowgate: the package is not built (dist/ is missing): run `npm run build` first\n');
    process.exit(1);
  }
  throw error;
}
cli.runMain(process.argv, require('../package.json').version);

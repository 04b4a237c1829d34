#!/usr/bin/env node
/**
 * The `frontdesk` command (the package's bin): `frontdesk --help` lists the
 * commands. Exit codes: 0 ok, 1 refused or failed, 2 usage or configuration error.
 */
import { processIo } from './io.js';
import { run } from './run.js';

run(process.argv.slice(2), processIo).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`frontdesk: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);

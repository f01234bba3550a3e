#!/usr/bin/env node
// The `create-nekoplugin` command. The CLI itself is compiled to dist/ by
// the build; this file is checked in so that npm links the command at
// install time, before anything is built, and says what to do when dist/ is
// missing.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/index.js', import.meta.url);

if (!existsSync(entry)) {
  process.stderr.write(
    'create-nekoplugin: the command is not built yet (dist/index.js is missing).\n' +
      'Run `npm run build` from the repository root, then run this again.\n',
  );
  process.exit(1);
}

// index.js runs the command as it loads, with this process's arguments.
await import(entry.href);

#!/usr/bin/env node
// The `nekoconnect` command. The CLI itself is compiled to dist/ by the
// build; this file is checked in so that npm links the command at install
// time, before anything is built, and says what to do when dist/ is missing.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/cli/main.js', import.meta.url);

if (!existsSync(entry)) {
  process.stderr.write(
    'nekoconnect: the server is not built yet (dist/cli/main.js is missing).\n' +
      'Run `npm run build` from the repository root (`npm start` also builds), then run this again.\n',
  );
  process.exit(1);
}

// main.js runs the command as it loads, with this process's arguments.
await import(entry.href);

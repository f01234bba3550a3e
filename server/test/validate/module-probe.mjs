/**
 * Loaded with `--import` into a CLI process under test: when the process
 * exits, writes the files of every CommonJS module it loaded (one per line)
 * to the file named by NEKO_MODULE_PROBE_OUT. ts-morph and TypeScript are
 * CommonJS, so they show up here however they were loaded.
 */
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const cache = createRequire(import.meta.url).cache;
const out = process.env.NEKO_MODULE_PROBE_OUT;
if (out) process.on('exit', () => writeFileSync(out, Object.keys(cache).join('\n')));

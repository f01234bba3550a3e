#!/usr/bin/env node
import kleur from 'kleur';
import { runCreate } from './cli.js';

const colors =
  process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== ''
    ? false
    : (process.env.FORCE_COLOR !== undefined && process.env.FORCE_COLOR !== '0') ||
      process.stdout.isTTY === true;
kleur.enabled = colors;

const code = await runCreate(process.argv.slice(2), {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  progress: process.stdout,
  cwd: process.cwd(),
  env: process.env,
  interactive: process.stdin.isTTY === true && process.stdout.isTTY === true,
  onInterrupt: (handler) => {
    process.on('SIGINT', handler);
    process.on('SIGTERM', handler);
    return () => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    };
  },
});
process.exitCode = code;

import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { onTestFinished } from 'vitest';

export interface PluginDef {
  /** The plugin's greeter; also its folder name. */
  greeter: string;
  /** `$name`; defaults to the greeter. */
  name?: string;
  /** The logic module's source. */
  logic: string;
  /** The logic file's name; default `logic.js`. */
  file?: string;
  /** The whole spec.conf text, instead of the one built from the other fields. */
  spec?: string;
}

export function specConf(name: string, greeter: string, logic = 'logic'): string {
  return `$name {"${name}"};\n$greet {"${greeter}"};\n$logic {"${logic}"};\n$version {"1.0.0"};\n`;
}

/**
 * Writes a plugins directory into a fresh temp dir: one folder per plugin
 * with its spec.conf and logic file, and a `package.json` of `"type":
 * "module"` so that `.js` logic is ESM. Removed when the test finishes.
 */
export async function makePluginsDir(defs: readonly PluginDef[]): Promise<string> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'neko-plugins-'));
  onTestFinished(() => rm(root, { recursive: true, force: true }));
  await writeFile(path.join(root, 'package.json'), '{ "type": "module" }\n');
  for (const def of defs) {
    const dir = path.join(root, def.greeter);
    await mkdir(dir);
    const file = def.file ?? 'logic.js';
    const logicName = file.replace(/\.[^.]+$/, '');
    await writeFile(
      path.join(dir, 'spec.conf'),
      def.spec ?? specConf(def.name ?? def.greeter, def.greeter, logicName),
    );
    await writeFile(path.join(dir, file), def.logic);
  }
  return root;
}

/** Logic sources shared by the server and client tests. */
export const LOGIC = {
  /**
   * A room for transport tests: op 1 answers `<transport> <user or ->`, op 3
   * keeps the data in `ctx.state.v` (answers `ok`), op 4 answers
   * `<session id> <v or ->`; any other op is broadcast to the others as op 2
   * (the sender gets `sent`, op 1).
   */
  roomProbe: `export class Logic {
  recv(ctx) {
    if (ctx.op === 1) { ctx.send(ctx.session.transport + ' ' + (ctx.session.user ?? '-'), { op: 1 }); return; }
    if (ctx.op === 3) { ctx.state.v = ctx.text(); ctx.send('ok', { op: 3 }); return; }
    if (ctx.op === 4) { ctx.send(ctx.session.id + ' ' + (ctx.state.v ?? '-'), { op: 4 }); return; }
    ctx.broadcast(ctx.text(), { op: 2, except: ctx.session.id });
    ctx.send('sent', { op: 1 });
  }
}
`,
  /** Replies with the same op and data. */
  echo: `export class Logic { recv(ctx) { ctx.send(ctx.data, { op: ctx.op }); } }\n`,
  /** Sends nothing: the server answers 200. */
  silent: `export class Logic { recv() {} }\n`,
  /** Sends nothing after an await: the server answers 200 once it settles. */
  asyncSilent: `export class Logic { async recv() { await new Promise((r) => setTimeout(r, 5)); } }\n`,
  /** Waits for the next packet and replies with both texts joined. */
  concat: `export class Logic {
  async recv(ctx) {
    const a = ctx.text();
    const next = await ctx.recv();
    ctx.send(a + next.text());
  }
}
`,
  /** Sends as many packets as its data says ("burst-1", "burst-2", …). */
  burst: `export class Logic {
  recv(ctx) {
    const n = Number(ctx.text() || '3');
    for (let i = 1; i <= n; i++) ctx.send('burst-' + i);
  }
}
`,
  /** Throws synchronously. */
  throws: `export class Logic {
  recv() {
    throw new Error('sync boom');
  }
}
`,
  /** Rejects after an await. */
  rejects: `export class Logic {
  async recv() {
    await null;
    throw new Error('async boom');
  }
}
`,
  /** Throws while the module is imported. */
  importThrows: `throw new Error('import boom');\nexport class Logic { recv() {} }\n`,
  /** Waits in ctx.recv() for as many ms as its data says; replies "got" or the error code. */
  recvTimeout: `export class Logic {
  async recv(ctx) {
    try {
      await ctx.recv({ timeoutMs: Number(ctx.text()) });
      ctx.send('got');
    } catch (err) {
      ctx.send(String(err.code));
    }
  }
}
`,
  /** Waits as many ms as its data says, then replies "slow-done". */
  slow: `export class Logic {
  async recv(ctx) {
    await new Promise((r) => setTimeout(r, Number(ctx.text())));
    ctx.send('slow-done');
  }
}
`,
  /** Says "bye" and closes the connection. */
  closer: `export class Logic { recv(ctx) { ctx.send('bye'); ctx.close(); } }\n`,
} as const;

/** All of {@link LOGIC} as plugin definitions, greeter = key. */
export function allPlugins(): PluginDef[] {
  return Object.entries(LOGIC)
    .filter(([greeter]) => greeter !== 'importThrows')
    .map(([greeter, logic]) => ({ greeter, logic }));
}

/**
 * A per-test list that plugins loaded in this process append to, under a
 * unique global key (`globalThis[key].push(…)` in the logic's source);
 * removed when the test finishes.
 */
export function eventLog(): { key: string; events: string[] } {
  const key = `__nekoEvents${Math.random().toString(36).slice(2)}`;
  const events: string[] = [];
  (globalThis as Record<string, unknown>)[key] = events;
  onTestFinished(() => {
    delete (globalThis as Record<string, unknown>)[key];
  });
  return { key, events };
}

/**
 * `nekoconnect pack [plugin-dir]`: writes the plugin as one `.ncp` package
 * (`pack/pack.ts`; the format is in docs/packages.md).
 */
import path from 'node:path';
import kleur from 'kleur';
import { shownPath } from '../format.js';
import { defineCommand } from './command.js';

/** The line printed before each step (the bundle is the slow one). */
const STEP_LINES = {
  spec: 'reading spec.conf',
  bundle: 'bundling the logic',
  ops: 'reading the Op table',
  write: 'writing the package',
} as const;

export const PACK_COMMAND = defineCommand({
  name: 'pack',
  args: ['[plugin-dir]'],
  summary: 'write a plugin as one .ncp package (see `nekoconnect pack --help`)',
  description: `Writes the plugin in plugin-dir (default: the current directory) as
<greeter>-<version>.ncp in the current directory: a zip with its spec.conf,
its logic bundled into one ES module (dependencies included, nekoconnect left
to the server) with its source map, ops.json (its Op table) and a manifest
with the sha256 of every entry and the NekoConnect versions it runs on. The
same sources give the same file. \`nekoconnect start\` and \`dev\` serve a .ncp
put in the plugins directory like a plugin folder. See docs/packages.md.

Examples:
  nekoconnect pack
  nekoconnect pack plugins/chat --out-dir dist`,
  flags: {
    'out-dir': {
      type: 'string',
      value: '<dir>',
      help: 'write the package into this folder (created when missing)',
      default: 'the current directory',
      key: 'outDir',
    },
    json: {
      type: 'boolean',
      help: 'print what was written as one JSON object (file, size, sha256, plugin, entries, ops)',
      key: 'json',
    },
  },
  footer: `Exit codes: 0 written, 1 failure (spec.conf, the logic, the out dir), 2 usage error.
Environment: NO_COLOR (plain output).`,
  run: async (flags, args, io) => {
    const cwd = io.cwd ?? process.cwd();
    const dir = path.resolve(cwd, args[0] ?? '.');
    const outDir = path.resolve(cwd, flags.outDir ?? '.');
    const json = flags.json === true;
    // Only this command pays for the bundler and the op extractor.
    const { packPlugin } = await import('../pack/index.js');
    const started = performance.now();
    const result = await packPlugin({
      dir,
      outDir,
      onStep: (step) => {
        if (!json) io.err(kleur.dim(`${STEP_LINES[step]}…`));
      },
    });
    const ms = Math.round(performance.now() - started);
    if (json) {
      io.out(
        JSON.stringify(
          {
            file: result.file,
            size: result.size,
            sha256: result.sha256,
            plugin: result.manifest.plugin,
            nekoconnect: result.manifest.nekoconnect,
            entries: result.entries,
            ops: result.ops,
          },
          null,
          2,
        ),
      );
      return 0;
    }
    const { spec } = result;
    io.out(
      kleur.green(`packed ${spec.name} v${spec.version} (greeter "${spec.greeter}")`) +
        kleur.dim(` in ${ms} ms`),
    );
    io.out(`  ${kleur.bold(shownPath(result.file, cwd))}  ${result.size} bytes`);
    io.out(`  sha256 ${result.sha256}`);
    io.out(`  runs on NekoConnect ${result.manifest.nekoconnect}`);
    const width = Math.max(...result.entries.map((e) => e.name.length));
    for (const entry of result.entries) {
      io.out(
        kleur.dim(`  ${entry.name.padEnd(width)}  ${String(entry.size).padStart(8)} bytes  ${entry.sha256}`),
      );
    }
    const ops =
      result.ops.ops.length === 0 && 'reason' in result.ops
        ? `no ops (${result.ops.reason})`
        : `${result.ops.ops.length} op${result.ops.ops.length === 1 ? '' : 's'}`;
    io.out(kleur.dim(`  ${ops}`));
    return 0;
  },
});

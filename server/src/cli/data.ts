/**
 * `nekoconnect data export` and `nekoconnect data import`: plugin data as
 * JSON Lines (`storage/transfer.ts`), from and to any backend, so that a
 * plugin's data moves between nedb and PostgreSQL.
 */
import { randomBytes } from 'node:crypto';
import { open, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import kleur from 'kleur';
import { NekoError, isNekoError } from '../errors.js';
import { errorMessage, plural, shownPath } from '../format.js';
import { loadConfig } from '../config/load-config.js';
import {
  DATABASE_URL_ENV,
  describeStorage,
  resolveStorage,
  type ResolvedStorage,
} from '../config/storage-options.js';
import type { StorageBackend } from '../storage/database.js';
import { selectStorageBackend } from '../storage/select.js';
import {
  exportDatabase,
  importRecords,
  parseRecords,
  type TransferCount,
  type TransferRecord,
} from '../storage/transfer.js';
import { defineCommand, type CliIo } from './command.js';

/** The flags both subcommands take: where the data is. */
const WHERE_FLAGS = {
  storage: {
    type: 'string',
    value: '<url|dir>',
    help: ['a postgres:// URL, or a nedb data directory', '(else NEKOCONNECT_DATABASE_URL, the config)'],
    key: 'storage',
  },
  'data-dir': {
    type: 'string',
    value: '<dir>',
    help: "the nedb data directory (else the config's)",
    key: 'dataDir',
  },
  config: { type: 'string', value: '<file>', help: 'take the storage from this config file', key: 'config' },
  'no-config': { type: 'boolean', help: 'ignore the config file', key: 'noConfig' },
} as const;

const FOOTER = `Exit codes: 0 done, 1 failure (a bad line, storage locked or unreachable),
2 usage or configuration error.
Environment: NEKOCONNECT_DATABASE_URL (as --storage), NO_COLOR (plain output).
See docs/storage.md.`;

const EXPORT_COMMAND = defineCommand({
  name: 'export',
  args: ['[greeter...]'],
  summary: "write plugins' documents and cells as JSON Lines",
  description: `Writes every document and key-value cell of the plugins with these greeters
(or of every plugin with --all) as JSON Lines, one record a line, to stdout
or to --out. The counts go to stderr (to stdout with --out). On nedb the
data directory is locked as a server locks it: stop the server first.

Examples:
  nekoconnect data export todo > todo.jsonl
  nekoconnect data export --all --out all.jsonl
  nekoconnect data export --all --storage postgres://neko@db:5432/neko`,
  flags: {
    all: { type: 'boolean', help: 'every plugin that has data stored', key: 'all' },
    out: { type: 'string', value: '<file>', help: 'write to this file instead of stdout', key: 'out' },
    ...WHERE_FLAGS,
  },
  footer: FOOTER,
  run: async (flags, args, io) => {
    if ((flags.all === true) === args.length > 0) {
      throw new NekoError(
        'NEKO_ERR_CLI_USAGE',
        args.length > 0 ? 'give greeters or --all, not both' : 'export what? give greeters or --all',
        { hint: 'Run `nekoconnect data export --help` for the usage.' },
      );
    }
    const cwd = io.cwd ?? process.cwd();
    const storage = await storageOf(flags, io, cwd);
    const report = flags.out === undefined ? io.err : io.out;
    return withBackend(storage, io, async (backend) => {
      const stored = await backend.greeters();
      const greeters = flags.all === true ? stored : [...new Set(args)];
      const out = flags.out === undefined ? undefined : path.resolve(cwd, flags.out);
      const sink = out === undefined ? stdoutSink(io) : await fileSink(out);
      const total: TransferCount = { documents: 0, cells: 0 };
      try {
        for (const greeter of greeters) {
          // A greeter with nothing stored is not opened: on nedb that would make its file.
          const count = stored.includes(greeter)
            ? await exportDatabase(await backend.open(greeter), greeter, sink.write)
            : { documents: 0, cells: 0 };
          total.documents += count.documents;
          total.cells += count.cells;
          report(
            `${greeter}: ${counted(count)}${stored.includes(greeter) ? '' : kleur.dim(' (nothing stored)')}`,
          );
        }
        await sink.done();
      } catch (err) {
        await sink.abandon();
        throw err;
      }
      const to = out === undefined ? 'stdout' : shownPath(out, cwd);
      report(
        kleur.green(
          `exported ${plural(greeters.length, 'greeter')} (${counted(total)}) from ${describeStorage(storage, (d) => shownPath(d, cwd))} to ${to}`,
        ),
      );
      return 0;
    });
  },
});

const IMPORT_COMMAND = defineCommand({
  name: 'import',
  args: ['[file]'],
  summary: 'write the documents and cells of an export into the storage',
  description: `Reads JSON Lines as \`nekoconnect data export\` writes them, from the file or
from stdin, and writes them into the storage: each document replaces the one
with its _id (or is added), each cell is set. Importing twice gives the same
data. Every line is checked first: a bad one stops the import, naming the
line, before anything is written. The counts per greeter go to stdout. On
nedb the data directory is locked as a server locks it: stop the server first.

Examples:
  nekoconnect data import todo.jsonl --storage postgres://neko@db:5432/neko
  nekoconnect data export --all | nekoconnect data import --data-dir copy
  nekoconnect data import all.jsonl --greeter todo`,
  flags: {
    greeter: {
      type: 'string',
      value: '<greeter>',
      help: "import only this greeter's lines",
      key: 'greeter',
    },
    ...WHERE_FLAGS,
  },
  footer: FOOTER,
  run: async (flags, args, io) => {
    const cwd = io.cwd ?? process.cwd();
    const file = args[0] === undefined ? undefined : path.resolve(cwd, args[0]);
    const storage = await storageOf(flags, io, cwd);
    const text = file === undefined ? await readStdin() : await readInput(file, cwd);
    // Every line is checked before the storage is touched.
    const records = parseRecords(text, flags.greeter);
    const byGreeter = new Map<string, TransferRecord[]>();
    for (const record of records) {
      const list = byGreeter.get(record.greeter) ?? [];
      list.push(record);
      byGreeter.set(record.greeter, list);
    }
    return withBackend(storage, io, async (backend) => {
      const total: TransferCount = { documents: 0, cells: 0 };
      for (const [greeter, list] of [...byGreeter].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
        const count = await importRecords(await backend.open(greeter), list);
        total.documents += count.documents;
        total.cells += count.cells;
        io.out(`${greeter}: ${counted(count)}`);
      }
      const from = file === undefined ? 'stdin' : shownPath(file, cwd);
      const only = flags.greeter === undefined ? '' : ` of greeter ${flags.greeter}`;
      io.out(
        kleur.green(
          `imported ${plural(byGreeter.size, 'greeter')}${only} (${counted(total)}) from ${from} into ${describeStorage(storage, (d) => shownPath(d, cwd))}`,
        ),
      );
      return 0;
    });
  },
});

/** `nekoconnect data`: its subcommands. */
export const DATA_COMMAND = defineCommand({
  name: 'data',
  summary: 'export and import plugin data (see `nekoconnect data --help`)',
  description: `Moves plugin data between storages (nedb files, PostgreSQL) as JSON Lines.
The storage is --storage, else NEKOCONNECT_DATABASE_URL, else the config's
storage, else the nedb data directory (--data-dir, the config's dataDir,
.nekoconnect/data), as for \`nekoconnect start\`.

Example, from nedb files to PostgreSQL:
  nekoconnect data export --all --out all.jsonl
  nekoconnect data import all.jsonl --storage postgres://neko:…@db:5432/neko`,
  subcommands: [EXPORT_COMMAND, IMPORT_COMMAND],
  flags: {},
  footer: FOOTER,
  run: async () => {
    throw new NekoError('NEKO_ERR_CLI_USAGE', 'nekoconnect data needs a command: export or import', {
      hint: 'Run `nekoconnect data --help` for the commands.',
    });
  },
});

/** The storage the flags, the environment and the config name. */
async function storageOf(
  flags: { storage?: string; dataDir?: string; config?: string; noConfig?: true },
  io: CliIo,
  cwd: string,
): Promise<ResolvedStorage> {
  const loaded = await loadConfig(cwd, { configFile: flags.config, noConfig: flags.noConfig });
  return resolveStorage({
    ...(flags.storage === undefined ? {} : { storage: flags.storage }),
    ...(flags.dataDir === undefined ? {} : { dataDir: flags.dataDir }),
    env: io.env,
    cwd,
    ...(loaded === undefined ? {} : { config: loaded.config, configFile: shownPath(loaded.file, cwd) }),
    base: loaded?.dir ?? cwd,
  });
}

/**
 * Runs `work` on the storage's backend, readied as a server readies it (nedb
 * takes its data directory's lock), and closes it after.
 */
async function withBackend(
  storage: ResolvedStorage,
  io: CliIo,
  work: (backend: ListingBackend) => Promise<number>,
): Promise<number> {
  const backend = selectStorageBackend(storage.selection, (warning) =>
    io.err(`${kleur.yellow('warning')} ${warning.message}`),
  );
  // nedb and PostgreSQL, the backends a storage of the CLI selects, both list their greeters.
  if (!hasGreeters(backend))
    throw new Error(`the ${storage.selection.backend} backend cannot list its greeters`);
  try {
    try {
      await backend.prepare?.();
    } catch (err) {
      if (isNekoError(err) && err.code === 'NEKO_ERR_STORAGE_LOCKED') {
        throw new NekoError(err.code, err.message, {
          cause: err,
          hint:
            'nekoconnect data reads and writes the data files itself: stop that server first ' +
            `(nekoconnect data never shares a nedb directory), or keep the data in PostgreSQL (--storage postgres://…, ${DATABASE_URL_ENV}), which any number of processes share.`,
        });
      }
      throw err;
    }
    const code = await work(backend);
    await backend.closeAll();
    return code;
  } catch (err) {
    await backend.closeAll().catch(() => undefined);
    throw err;
  }
}

/** A backend that lists the greeters with data, as `export` needs. */
type ListingBackend = StorageBackend & Required<Pick<StorageBackend, 'greeters'>>;

function hasGreeters(backend: StorageBackend): backend is ListingBackend {
  return typeof backend.greeters === 'function';
}

function counted(count: TransferCount): string {
  return `${plural(count.documents, 'document')}, ${plural(count.cells, 'cell')}`;
}

interface Sink {
  write: (line: string) => Promise<void>;
  done: () => Promise<void>;
  abandon: () => Promise<void>;
}

/** Lines to stdout; `done` waits until stdout took them (the CLI exits right after). */
function stdoutSink(io: CliIo): Sink {
  return {
    write: async (line) => io.out(line),
    done: () => new Promise<void>((resolve) => process.stdout.write('', () => resolve())),
    abandon: async () => undefined,
  };
}

/** Lines to a temp file beside `file`, renamed to it once whole: a failed export leaves no half file. */
async function fileSink(file: string): Promise<Sink> {
  const temp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  let handle;
  try {
    handle = await open(temp, 'wx', 0o600);
  } catch (err) {
    throw fileError(`cannot write ${file}`, err);
  }
  let buffered: string[] = [];
  const flush = async (): Promise<void> => {
    if (buffered.length === 0) return;
    const text = buffered.join('');
    buffered = [];
    await handle.write(text);
  };
  return {
    write: async (line) => {
      buffered.push(`${line}\n`);
      if (buffered.length >= 1000) await flush();
    },
    done: async () => {
      try {
        await flush();
        await handle.sync();
        await handle.close();
        await rename(temp, file);
      } catch (err) {
        await rm(temp, { force: true });
        throw fileError(`cannot write ${file}`, err);
      }
    },
    abandon: async () => {
      await handle.close().catch(() => undefined);
      await rm(temp, { force: true });
    },
  };
}

async function readInput(file: string, cwd: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw fileError(`cannot read ${shownPath(file, cwd)}`, err);
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function fileError(what: string, err: unknown): NekoError {
  return new NekoError('NEKO_ERR_DATA_FILE', `${what}: ${errorMessage(err)}`, {
    cause: err,
    hint: 'Check the path and its permissions.',
  });
}

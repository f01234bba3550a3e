/**
 * docs/deploy.md as the deployment tests read it: its fenced code blocks
 * (the recipes are found by the `title=` of their info string), the systemd
 * unit's settings, the Containerfile's instructions, and every command line
 * that runs `nekoconnect`.
 */
import { spawn, type SpawnOptions } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { REPO_ROOT } from '../cli/run-cli.js';

export const GUIDE = join(REPO_ROOT, 'docs', 'deploy.md');

/** One fenced code block of the guide. */
export interface CodeBlock {
  /** The language: the info string's first word (`ini`, `sh`, `dockerfile`…). */
  lang: string;
  /** The `title=` of the info string, when it has one. */
  title: string | undefined;
  /** The block's text, without the fences and without the indentation of a block inside a list. */
  body: string;
  /** The line of the opening fence, from 1. */
  line: number;
}

/** Every fenced code block of the guide, in order. */
export function codeBlocks(text = readFileSync(GUIDE, 'utf8')): CodeBlock[] {
  const blocks: CodeBlock[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^( *)```(\S*)(.*)$/.exec(lines[i]!);
    if (!open) continue;
    const indent = open[1]!.length;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length && !/^ *```\s*$/.test(lines[j]!); j++) body.push(lines[j]!.slice(indent));
    if (j === lines.length) throw new Error(`${GUIDE}:${i + 1}: a code block is not closed`);
    blocks.push({
      lang: open[2]!,
      title: /\btitle=(\S+)/.exec(open[3]!)?.[1],
      body: body.join('\n') + '\n',
      line: i + 1,
    });
    i = j;
  }
  return blocks;
}

/** The one block whose info string says `title=<title>`; throws when there is none or several. */
export function titledBlock(title: string): CodeBlock {
  const found = codeBlocks().filter((b) => b.title === title);
  if (found.length !== 1) {
    throw new Error(`${GUIDE} must have exactly one code block with title=${title}, found ${found.length}`);
  }
  return found[0]!;
}

/** Lines with their `\` continuations joined (a backslash at the end of a line goes on with the next). */
export function joinContinuations(text: string): string[] {
  return text.replace(/\\\n\s*/g, ' ').split('\n');
}

/** A systemd unit: each section's settings, each key with its values in order. */
export type Unit = Map<string, Map<string, string[]>>;

/** Parses a unit file as systemd does for what the tests need: sections, `key=value`, continuations, comments. */
export function parseUnit(text: string): Unit {
  const unit: Unit = new Map();
  let section: Map<string, string[]> | undefined;
  for (const raw of joinContinuations(text)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = new Map();
      unit.set(header[1]!, section);
      continue;
    }
    const eq = line.indexOf('=');
    if (section === undefined || eq === -1) throw new Error(`not a unit file line: ${line}`);
    const key = line.slice(0, eq).trim();
    section.set(key, [...(section.get(key) ?? []), line.slice(eq + 1).trim()]);
  }
  return unit;
}

/** The single value of a unit setting; throws when it is missing or given more than once. */
export function setting(unit: Unit, section: string, key: string): string {
  const values = unit.get(section)?.get(key);
  if (values?.length !== 1)
    throw new Error(`[${section}] ${key}= must be set once, got ${JSON.stringify(values)}`);
  return values[0]!;
}

/** One instruction of a Containerfile: `RUN npm ci` is `{ name: 'RUN', args: 'npm ci' }`. */
export interface Instruction {
  name: string;
  args: string;
}

/** The instructions of a Containerfile, continuations joined, comments dropped. */
export function parseContainerfile(text: string): Instruction[] {
  const instructions: Instruction[] = [];
  for (const raw of joinContinuations(text.replace(/^\s*#.*\n/gm, ''))) {
    const line = raw.trim();
    if (line === '') continue;
    const m = /^([A-Za-z]+)\s+(.*)$/.exec(line);
    if (!m) throw new Error(`not a Containerfile instruction: ${line}`);
    instructions.push({ name: m[1]!.toUpperCase(), args: m[2]!.trim() });
  }
  return instructions;
}

/**
 * The words of a command line, as a POSIX shell splits them: single and
 * double quotes group, a backslash escapes, `#` at a word's start begins
 * a comment; variables and `$(…)` are kept
 * as written (the checks here need the flags, not the values).
 */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote !== undefined) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"' && i + 1 < line.length) word += line[++i]!;
      else word += c;
    } else if (c === '#' && word === undefined) {
      break; // a comment: from a word's start to the end of the line
    } else if (c === '"' || c === "'") {
      quote = c;
      word ??= '';
    } else if (c === '\\' && i + 1 < line.length) {
      word = (word ?? '') + line[++i]!;
    } else if (/\s/.test(c)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else {
      word = (word ?? '') + c;
    }
  }
  if (quote !== undefined) throw new Error(`unclosed ${quote} in: ${line}`);
  if (word !== undefined) words.push(word);
  return words;
}

/** A `nekoconnect` command the guide shows. */
export interface GuideCommand {
  /** Where: the code block's first line, and the kind of block. */
  where: string;
  /** The subcommand and its arguments: `['start', 'plugins', '--port', '0']`. */
  argv: string[];
}

/** The words that run the CLI: the command itself, `npx nekoconnect`, or its launcher run by node. */
const CLI_WORD = /(^|\/)nekoconnect(\.js)?$/;

/** The commands the CLI has; a `nekoconnect` word followed by another is not a command line (a path, a name). */
const SUBCOMMANDS = new Set(['start', 'dev', 'reload', 'drain', 'validate', 'help', 'version']);

/** The argv of the commands in a list of words, from the CLI word to the end of the shell command. */
function commandsIn(words: readonly string[], where: string): GuideCommand[] {
  const found: GuideCommand[] = [];
  for (let i = 0; i < words.length; i++) {
    if (!CLI_WORD.test(words[i]!) || !SUBCOMMANDS.has(words[i + 1] ?? '')) continue;
    const argv: string[] = [];
    for (let j = i + 1; j < words.length && !/^(&&|\|\||;|\||&)$/.test(words[j]!); j++) argv.push(words[j]!);
    found.push({ where, argv });
  }
  return found;
}

/**
 * A unit's text for one instance of it, as systemd expands the specifiers
 * the guide uses: `%i` (and `%I`) is the instance name, `%%` a percent sign.
 */
export function systemdInstance(text: string, instance: string): string {
  return text.replace(/%([iI%])/g, (_m, c: string) => (c === '%' ? '%' : instance));
}

/**
 * Every `nekoconnect` command line of the guide: in shell blocks (one
 * command a line, `&&` chains split), in the unit's `Exec*=` settings, in
 * the Containerfile's exec-form `CMD`, and in the prose's code spans.
 */
export function guideCommands(text = readFileSync(GUIDE, 'utf8')): GuideCommand[] {
  const blocks = codeBlocks(text);
  const commands: GuideCommand[] = [];
  const prose = text.replace(/^ *```[\s\S]*?^ *```\s*$/gm, (block) => block.replace(/[^\n]/g, ''));
  prose.split('\n').forEach((line, i) => {
    for (const span of line.matchAll(/`([^`]+)`/g)) {
      commands.push(...commandsIn(shellWords(span[1]!), `docs/deploy.md:${i + 1} (prose)`));
    }
  });
  for (const block of blocks) {
    const where = `docs/deploy.md:${block.line} (${block.title ?? block.lang})`;
    if (block.lang === 'dockerfile') {
      for (const { name, args } of parseContainerfile(block.body)) {
        if (name === 'CMD' || name === 'ENTRYPOINT' || name === 'RUN') {
          const words = args.startsWith('[') ? (JSON.parse(args) as string[]) : shellWords(args);
          commands.push(...commandsIn(words, where));
        }
      }
      continue;
    }
    // A template unit's lines as systemd runs them for one instance: `%i` is the instance's name, `1` here.
    const body = block.lang === 'ini' ? systemdInstance(block.body, '1') : block.body;
    for (const line of joinContinuations(body)) {
      const text = line.replace(/^\s*#.*$/, '').replace(/^\w+=/, '');
      // `a && b`, `; `: shellWords keeps the operators as words, commandsIn stops at them.
      commands.push(...commandsIn(shellWords(text.replace(/(&&|\|\||;)/g, ' $1 ')), where));
    }
  }
  return commands;
}

/**
 * A TCP port free right now on every interface, for a recipe whose port must be known before it starts.
 * Picked at random below the kernel's ephemeral range (where outgoing connections take theirs, and where
 * port 0 picks), so that tests running side by side do not pick the same one.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const server = createServer();
    const bound = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(port, '0.0.0.0', () => resolve(true));
    });
    if (!bound) continue;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    return port;
  }
  throw new Error('no free TCP port between 20000 and 32000');
}

/** The environment of a user's shell: none of the npm_* variables of an `npm test` running the tests. */
export function userEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key) && key !== 'INIT_CWD'),
  );
  return { ...env, NO_COLOR: '1', NEKOCONNECT_SECRET: undefined, ...extra };
}

/** Runs a command to its end; rejects with its output when it exits with another code than 0. */
export function run(
  command: string,
  args: readonly string[],
  options: SpawnOptions & { timeoutMs?: number } = {},
): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, [...args], {
      env: userEnv(),
      ...options,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve({ stdout, stderr });
      else {
        reject(
          new Error(
            `${command} ${args.join(' ')} exited with ${code ?? signal}\nstdout:\n${stdout}\nstderr:\n${stderr}`,
          ),
        );
      }
    });
  });
}

/** Polls `url` until it answers `status`, or rejects after `timeoutMs` with the last answer or error. */
export async function waitForHttp(url: string, status = 200, timeoutMs = 20_000): Promise<Response> {
  const deadline = Date.now() + timeoutMs;
  let last: string;
  for (;;) {
    try {
      const res = await fetch(url);
      if (res.status === status) return res;
      last = `${res.status} ${await res.text()}`;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer ${status} in ${timeoutMs} ms: ${last}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

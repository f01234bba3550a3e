/**
 * "Copy as test": the Playground's timelines as a vitest test on
 * `@nekoconnect/testing`, ready to paste into the plugin's folder. A pure
 * function of the timelines and the plugins' ops.
 *
 * The rules (docs/dashboard.md, "Copy as test"):
 * - One test server for the plugin (`createTestServer({ plugin:
 *   import.meta.dirname })`), one `server.connect()` per simulated client,
 *   made where it was opened.
 * - The page's steps replay in the order they were made, across clients: a
 *   request is `await client.request(greeter, data, { op })` with the answer
 *   as the expectation; a send is `client.send(...)`, and the status that
 *   answered it `await client.expectStatus(code)`; a close by the page is
 *   `await client.close()`.
 * - What arrived without being asked (pushes, the replies to sends) is taken
 *   with `await client.next()`, after every step that started before it
 *   arrived: its order is asserted per client only.
 * - An op is written `Op.Name` when the plugin's `Op` table has it (imported
 *   from './logic.js'), else as its number.
 * - Data is asserted whole where it is deterministic; a value that looks like
 *   it varies from run to run is asserted by its shape (`expect.any(String)`,
 *   `expect.any(Number)`, the keys of an object): see {@link varies}.
 */
import type { PlaygroundData, PlaygroundEvent, PlaygroundOp, PlaygroundTest } from './wire.js';

/** One client's recorded timeline. */
export interface RecordedClient {
  readonly id: string;
  readonly label: string;
  readonly events: readonly PlaygroundEvent[];
}

/** Keys whose values are ids or times: asserted by their shape. */
const VARYING_KEY =
  /^(?:id|_id|uuid|guid|session|sessionId|token|nonce|random|time|timestamp|ts|at|date|created|updated|expires|started|ended|now)$|(?:Id|Ids|At|Time|Date|Uuid|Token)$/;
/** Strings that are ids or times. */
const VARYING_TEXT = [
  // UUIDs.
  /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i,
  // ISO-8601 dates and times.
  /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/,
  // Session ids (`s-12`, or a cluster's random ones).
  /^s-[A-Za-z0-9_-]+$/,
  // Long random-looking tokens: 16+ characters of hex, base64 or base64url, with both digits and letters.
  /^(?=[A-Za-z0-9+/_=-]*\d)(?=[A-Za-z0-9+/_=-]*[A-Za-z])[A-Za-z0-9+/_=-]{16,}$/,
];
/** Numbers that are times in ms since the epoch (2001 to 2286). */
const EPOCH_MS = { min: 1e12, max: 1e13 };

/**
 * True for a value that looks like it varies from one run to the next: a
 * string that is a UUID, an ISO-8601 date, a session id or a long
 * random-looking token; a number that is a time in ms since the epoch; or
 * any string or number under a key named like an id or a time (`id`,
 * `userId`, `createdAt`, `timestamp`, …).
 */
export function varies(value: unknown, key?: string): boolean {
  if (typeof value === 'string') {
    if (key !== undefined && VARYING_KEY.test(key)) return true;
    return VARYING_TEXT.some((pattern) => pattern.test(value));
  }
  if (typeof value === 'number') {
    if (key !== undefined && VARYING_KEY.test(key)) return true;
    return Number.isInteger(value) && value >= EPOCH_MS.min && value < EPOCH_MS.max;
  }
  return false;
}

/** A step of the test, placed in time. */
interface Step {
  /** Where it goes: steps sort by this, then by `order`. */
  readonly at: number;
  /** Made by the page (a connect, send, request, close), or arrived by itself (placed after what started before it). */
  readonly passive: boolean;
  readonly order: number;
  readonly lines: readonly string[];
}

/**
 * The test of `clients`' timelines.
 *
 * @param ops each greeter's ops (from its `Op` table), for `Op.Name`
 */
export function testCode(
  clients: readonly RecordedClient[],
  ops: ReadonlyMap<string, readonly PlaygroundOp[]>,
): PlaygroundTest {
  const greeters = new Set<string>();
  for (const client of clients) {
    for (const event of client.events) if (event.kind === 'sent') greeters.add(event.greeter);
  }
  const named = mainGreeter(clients, ops);
  const opNames = new Map<number, string>(
    (named === undefined ? [] : ops.get(named)!).map((o) => [o.op, o.name]),
  );
  const context: Context = { named, opNames, usedOp: false };
  const names = variableNames(clients);
  const steps: Step[] = [];
  let order = 0;
  const add = (at: number, passive: boolean, lines: readonly string[]): void => {
    steps.push({ at, passive, order: order++, lines });
  };

  for (const client of clients) {
    const v = names.get(client.id)!;
    const open = client.events.find((event) => event.kind === 'open');
    add(open?.at ?? 0, false, [`const ${v} = await server.connect({ name: ${str(client.label)} });`]);
    const answers = new Map<number, PlaygroundEvent>();
    for (const event of client.events) {
      if (
        (event.kind === 'reply' || event.kind === 'status' || event.kind === 'error') &&
        event.answers !== undefined
      ) {
        answers.set(event.answers, event);
      }
    }
    let replies = 0;
    let pushes = 0;
    for (const event of client.events) {
      switch (event.kind) {
        case 'sent': {
          const answer = answers.get(event.seq);
          const call = `${v}.${event.mode}(${str(event.greeter)}, ${dataCode(event.data)}, { op: ${opCode(context, event.greeter, event.op)}`;
          if (event.mode === 'send') {
            add(event.at, false, [`${call} });`]);
            // The status that answers a send is kept for expectStatus (the next() calls skip statuses).
            if (answer?.kind === 'status')
              add(answer.at, true, [`await ${v}.expectStatus(${answer.status});`]);
          } else if (answer === undefined || answer.kind === 'error') {
            const reason = answer === undefined ? 'it got no answer' : `${answer.code}: ${answer.message}`;
            add(event.at, false, [
              `// ${v}'s request (op ${event.op} to ${event.greeter}) was not answered in the Playground (${oneLine(reason)}).`,
            ]);
          } else if (answer.kind === 'status') {
            add(event.at, false, [`expect((await ${call} })).status).toBe(${answer.status});`]);
          } else if (answer.kind === 'reply') {
            const r = `${v}Reply${++replies}`;
            add(event.at, false, [`const ${r} = await ${call} });`, ...packetExpect(context, r, answer)]);
          }
          break;
        }
        case 'reply':
          // The reply to a send: it waits among the client's unread packets.
          if (answers.get(event.answers)?.kind === 'reply' && isSend(client, event.answers)) {
            const r = `${v}Reply${++replies}`;
            add(event.at, true, [`const ${r} = await ${v}.next();`, ...packetExpect(context, r, event)]);
          }
          break;
        case 'push': {
          const r = `${v}Push${++pushes}`;
          add(event.at, true, [`const ${r} = await ${v}.next();`, ...packetExpect(context, r, event)]);
          break;
        }
        case 'wait':
          if (event.phase === 'waiting') {
            add(event.at, true, [`// ${event.greeter} waits in ctx.recv() for ${v}'s next packet.`]);
          }
          break;
        case 'close':
          if (event.by === 'page') add(event.at, false, [`await ${v}.close();`]);
          else {
            const status = event.status === undefined ? '' : `.status).toBe(${event.status}`;
            add(
              event.at,
              true,
              status === ''
                ? [`await ${v}.expectClosed();`]
                : [`expect((await ${v}.expectClosed())${status});`],
            );
          }
          break;
        default:
          break;
      }
    }
  }

  const body = place(steps).flatMap((step) => step.lines);
  const labels = clients.map((client) => client.label);
  const title = `replays ${labels.length === 0 ? 'no client' : joinWords(labels)} as recorded in the Playground`;
  const lines = [
    `import { describe, expect, it } from 'vitest';`,
    `import { createTestServer } from '@nekoconnect/testing';`,
    ...(context.usedOp ? [`import { Op } from './logic.js';`] : []),
    '',
    ...(greeters.size > 1
      ? [
          `// These clients talked to ${joinWords([...greeters].map((g) => `"${g}"`))}: the test server serves this folder's plugin only.`,
        ]
      : []),
    `describe('Playground', () => {`,
    `  it(${str(title)}, async () => {`,
    `    const server = await createTestServer({ plugin: import.meta.dirname });`,
    ...body.map((line) => `    ${line}`),
    '  });',
    '});',
    '',
  ];
  return { code: lines.join('\n'), greeters: [...greeters] };
}

interface Context {
  /** The greeter whose `Op` table is imported (`Op.Name`); others' ops are numbers. */
  readonly named: string | undefined;
  readonly opNames: ReadonlyMap<number, string>;
  usedOp: boolean;
}

/**
 * The steps in test order: the page's steps in the order they were made;
 * each arrival after every page step that started at or before it (ties
 * included: what arrived cannot have been caused by a later step).
 */
function place(steps: readonly Step[]): Step[] {
  const active = steps.filter((s) => !s.passive).sort((a, b) => a.at - b.at || a.order - b.order);
  const passive = steps.filter((s) => s.passive).sort((a, b) => a.at - b.at || a.order - b.order);
  const placed: Step[] = [];
  let p = 0;
  for (const step of active) {
    while (p < passive.length && passive[p]!.at < step.at) placed.push(passive[p++]!);
    placed.push(step);
  }
  while (p < passive.length) placed.push(passive[p++]!);
  return placed;
}

function isSend(client: RecordedClient, seq: number): boolean {
  return client.events.some((event) => event.kind === 'sent' && event.seq === seq && event.mode === 'send');
}

/** The greeter sent to most that has an `Op` table. */
function mainGreeter(
  clients: readonly RecordedClient[],
  ops: ReadonlyMap<string, readonly PlaygroundOp[]>,
): string | undefined {
  const counts = new Map<string, number>();
  for (const client of clients) {
    for (const event of client.events) {
      if (event.kind === 'sent' && (ops.get(event.greeter)?.length ?? 0) > 0) {
        counts.set(event.greeter, (counts.get(event.greeter) ?? 0) + 1);
      }
    }
  }
  let best: string | undefined;
  for (const [greeter, count] of counts) if (best === undefined || count > counts.get(best)!) best = greeter;
  return best;
}

function opCode(context: Context, greeter: string, op: number): string {
  const name = greeter === context.named ? context.opNames.get(op) : undefined;
  if (name === undefined || !/^[A-Za-z_$][\w$]*$/.test(name)) return String(op);
  context.usedOp = true;
  return `Op.${name}`;
}

/** The expectation of a packet that arrived: its op and data. */
function packetExpect(
  context: Context,
  variable: string,
  packet: { readonly greeter: string; readonly op: number; readonly data: PlaygroundData },
): string[] {
  const op = opCode(context, packet.greeter, packet.op);
  const { data } = packet;
  if (data.json !== undefined && data.text !== undefined && data.text.trim() !== '') {
    return [`expect([${variable}.op, ${variable}.json()]).toEqual([${op}, ${expected(data.json)}]);`];
  }
  if (data.text !== undefined) {
    const text = varies(data.text) ? 'expect.any(String)' : str(data.text);
    return [`expect([${variable}.op, ${variable}.text()]).toEqual([${op}, ${text}]);`];
  }
  return [`expect([${variable}.op, ${variable}.data.toString('hex')]).toEqual([${op}, ${str(data.hex)}]);`];
}

/** A JSON value as the expected value: literal where deterministic, a shape where it varies. */
function expected(value: unknown, key?: string): string {
  if (varies(value, key)) return typeof value === 'number' ? 'expect.any(Number)' : 'expect.any(String)';
  if (Array.isArray(value)) return `[${value.map((item) => expected(item)).join(', ')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 0) return '{}';
    return `{ ${entries.map(([k, v]) => `${propertyKey(k)}: ${expected(v, k)}`).join(', ')} }`;
  }
  if (typeof value === 'string') return str(value);
  return JSON.stringify(value);
}

/** The data argument of a send or request: the text (or JSON text) typed, or the bytes. */
function dataCode(data: PlaygroundData): string {
  if (data.text === undefined) return `Buffer.from(${str(data.hex)}, 'hex')`;
  if (
    data.json !== undefined &&
    typeof data.json === 'object' &&
    data.json !== null &&
    JSON.stringify(data.json) === data.text
  ) {
    // Sent as JSON by the test client too: the same bytes.
    return literal(data.json);
  }
  return str(data.text);
}

/** A JSON value as a JavaScript literal. */
function literal(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(literal).join(', ')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 0) return '{}';
    return `{ ${entries.map(([k, v]) => `${propertyKey(k)}: ${literal(v)}`).join(', ')} }`;
  }
  if (typeof value === 'string') return str(value);
  return JSON.stringify(value);
}

function propertyKey(key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? key : str(key);
}

/** A single-quoted JavaScript string. */
function str(text: string): string {
  const escaped = JSON.stringify(text).slice(1, -1).replace(/\\"/g, '"').replace(/'/g, "\\'");
  return `'${escaped}'`;
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

function joinWords(words: readonly string[]): string {
  if (words.length <= 1) return words.join('');
  return `${words.slice(0, -1).join(', ')} and ${words[words.length - 1]}`;
}

/** Words a variable cannot be named (a label `new` becomes `new2`). */
const RESERVED = (
  'await break case catch class const continue debugger default delete do else enum export extends false ' +
  'finally for function if implements import in instanceof interface let new null package private protected ' +
  'public return static super switch this throw true try typeof var void while with yield undefined'
).split(' ');

/** A variable name per client: `client 1` → `client1`, `Mimi's phone` → `mimisPhone`; unique. */
function variableNames(clients: readonly RecordedClient[]): Map<string, string> {
  const taken = new Set(['server', 'expect', 'describe', 'it', 'Op', 'Buffer', ...RESERVED]);
  const names = new Map<string, string>();
  for (const client of clients) {
    const words = client.label
      .normalize('NFKD')
      .replace(/[^A-Za-z0-9\s_-]/g, '')
      .split(/[\s_-]+/)
      .filter((w) => w !== '');
    let base = words
      .map((w, i) =>
        i === 0 ? w.charAt(0).toLowerCase() + w.slice(1) : w.charAt(0).toUpperCase() + w.slice(1),
      )
      .join('');
    if (!/^[A-Za-z_$]/.test(base)) base = `client${base}`;
    let name = base;
    for (let n = 2; taken.has(name); n++) name = `${base}${n}`;
    taken.add(name);
    names.set(client.id, name);
  }
  return names;
}

/**
 * What the dashboard's Playground API sends and receives (JSON). The server
 * side (`server/src/playground/`, the routes under `/api/playground/`) and the
 * page (`server/ui/`) both use these types: one definition of the contract.
 * Documented in docs/dashboard.md ("Playground").
 */

/** One op of a plugin's `Op` table, with its doc comment. */
export interface PlaygroundOp {
  readonly name: string;
  readonly op: number;
  /** The doc comment's text, when the op has one. */
  readonly doc?: string;
}

/** A loaded plugin as the Playground offers it. */
export interface PlaygroundPlugin {
  readonly greeter: string;
  readonly name: string;
  /** Its ops; empty when it declares no `Op` table (the page then takes a free op number). */
  readonly ops: readonly PlaygroundOp[];
  /** Why `ops` is empty (no `Op` table, a package without ops.json…), shown beside the free op field. */
  readonly opsReason?: string;
}

/** `GET /api/playground`. */
export interface PlaygroundInfo {
  /** False under `start` without `--playground` (then `reason` says how to turn it on). */
  readonly enabled: boolean;
  readonly reason?: string;
  readonly plugins: readonly PlaygroundPlugin[];
  readonly clients: readonly PlaygroundClient[];
}

/** How the page typed a packet's data. */
export type PlaygroundDataKind = 'text' | 'json' | 'hex';

/** A packet's data, as the page shows it: always the hex, and text / JSON when the bytes are that. */
export interface PlaygroundData {
  readonly bytes: number;
  readonly hex: string;
  /** Present when the bytes are valid UTF-8. */
  readonly text?: string;
  /** Present when the text parses as JSON. */
  readonly json?: unknown;
}

/** `POST /api/playground/clients/:id/send`'s body. */
export interface PlaygroundSend {
  readonly greeter: string;
  readonly op: number;
  readonly data: { readonly kind: PlaygroundDataKind; readonly value: string };
  /** `send`: fire and forget; `request`: wait for the answer (or a status). */
  readonly mode: 'send' | 'request';
  /** For a request; default 5000. */
  readonly timeoutMs?: number;
}

/** One entry of a simulated client's timeline. */
export type PlaygroundEvent =
  | PlaygroundEventBase<'open'>
  | (PlaygroundEventBase<'sent'> & {
      readonly mode: 'send' | 'request';
      readonly greeter: string;
      readonly op: number;
      readonly data: PlaygroundData;
    })
  | (PlaygroundEventBase<'reply'> & {
      /** The `seq` of the request it answers. */
      readonly answers: number;
      readonly latencyMs: number;
      readonly greeter: string;
      readonly op: number;
      readonly data: PlaygroundData;
    })
  | (PlaygroundEventBase<'push'> & {
      readonly greeter: string;
      readonly op: number;
      readonly data: PlaygroundData;
    })
  | (PlaygroundEventBase<'status'> & {
      /** The `seq` of the request it answers, when it answers one. */
      readonly answers?: number;
      readonly latencyMs?: number;
      readonly greeter: string;
      readonly status: number;
      /** `Not Found`, `Internal Server Error`… */
      readonly text: string;
    })
  | (PlaygroundEventBase<'wait'> & {
      /** The plugin's `recv()` started (`waiting`) or ended (`done`) waiting for this client's next packet. */
      readonly greeter: string;
      readonly phase: 'waiting' | 'done';
    })
  | (PlaygroundEventBase<'error'> & {
      readonly code: string;
      readonly message: string;
      readonly answers?: number;
    })
  | (PlaygroundEventBase<'close'> & { readonly status?: number; readonly by: 'page' | 'server' });

interface PlaygroundEventBase<K extends string> {
  readonly kind: K;
  /** The simulated client's id. */
  readonly client: string;
  /** 1, 2, 3… per client, in the order things happened. */
  readonly seq: number;
  /** ms since the epoch. */
  readonly at: number;
}

/** A simulated client: a real session on the server. */
export interface PlaygroundClient {
  readonly id: string;
  /** `client 1`, `client 2`… or the name the page gave. */
  readonly label: string;
  /** The session's id on the server (as the Sessions view shows it). */
  readonly sessionId: string;
  readonly open: boolean;
  readonly openedAt: number;
  readonly events: readonly PlaygroundEvent[];
}

/** `GET /api/playground/test?clients=<id>,<id>`: the timelines as a vitest test. */
export interface PlaygroundTest {
  /** The test's source, ready to paste into the plugin's test file. */
  readonly code: string;
  /** The greeters it talks to. */
  readonly greeters: readonly string[];
}

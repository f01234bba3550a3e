/**
 * What the dev watcher reports. The CLI prints each event as a line (see
 * `report.ts`); the dashboard will show the same events.
 */
import type { NekoError } from '../errors.js';
import type { StateProblem } from './state-json.js';

/** A plugin folder's new version serves its greeter now. */
export interface ReloadedEvent {
  readonly type: 'reloaded';
  /** The plugin folder, absolute. */
  readonly dir: string;
  readonly greeter: string;
  /** `$name` of spec.conf. */
  readonly name: string;
  /** The number of the version now serving (1 for a greeter's first load, one more per reload). */
  readonly version: number;
  /** True when the greeter had no plugin before (a new folder, or one that failed until now). */
  readonly added: boolean;
  /** The greeter the folder served before, when spec.conf changed it; that one answers 404 now. */
  readonly renamedFrom?: string;
  /** From the start of the reload (validation included) to the swap, in ms. */
  readonly durationMs: number;
  /** What the validator warned about; a warning does not stop a reload. */
  readonly warnings: readonly NekoError[];
}

/** A plugin folder lost its spec.conf (or was removed): its greeter answers 404. */
export interface RemovedEvent {
  readonly type: 'removed';
  readonly dir: string;
  readonly greeter: string;
  readonly durationMs: number;
}

/** A change that failed validation or loading: clients see no change. */
export interface RejectedEvent {
  readonly type: 'rejected';
  readonly dir: string;
  /** The greeter, when spec.conf parsed (or a version serves it). */
  readonly greeter?: string;
  /** Where it failed: the validator, or the loader (transpile, import, checks, hooks). */
  readonly stage: 'validate' | 'load';
  readonly errors: readonly NekoError[];
  /** The number of the version that keeps serving; absent when none does. */
  readonly serving?: number;
  /**
   * When no version of this folder serves: what its greeter answers meanwhile
   * (503 for a plugin marked unavailable). Absent when another folder serves the greeter.
   */
  readonly answers?: 404 | 503;
  /**
   * When another folder's plugin serves the greeter (this folder declares a
   * greeter already taken): that folder, absolute. It keeps serving; this
   * one is refused.
   */
  readonly servedBy?: string;
  readonly durationMs: number;
}

/**
 * What validating every plugin once at start-up found (it also warms the
 * validator up). Only plugins with problems get one. The plugin keeps
 * serving; a save that keeps an error is rejected.
 */
export interface CheckedEvent {
  readonly type: 'checked';
  readonly dir: string;
  readonly greeter?: string;
  /** The errors the start-up report has not shown already. */
  readonly errors: readonly NekoError[];
  readonly warnings: readonly NekoError[];
  /**
   * How many of the validator's errors are left out of `errors` because the
   * plugin failed to load with them and the start-up report showed them.
   */
  readonly shown?: number;
}

/** The start-up validation of every plugin is done: the validator is warm, saves are checked fast from now on. */
export interface ValidatedEvent {
  readonly type: 'validated';
  /** The plugin folders validated. */
  readonly plugins: number;
  readonly durationMs: number;
}

/**
 * A session's `ctx.state` holds a value JSON cannot carry (a function, a
 * class instance, a Map, a cycle…). Reported once per plugin, session and
 * top-level key; the plugin keeps serving.
 */
export interface StateEvent {
  readonly type: 'state';
  /** The plugin folder, absolute. */
  readonly dir: string;
  readonly greeter: string;
  /** The session id (`ctx.session.id`). */
  readonly session: string;
  readonly problem: StateProblem;
  /** The same as a coded warning, `NEKO_ERR_DEV_STATE_NOT_JSON`, its fix in `hint`. */
  readonly warning: NekoError;
}

/** Something went wrong in the watcher itself (`NEKO_ERR_DEV_*`); it keeps watching. */
export interface WatchErrorEvent {
  readonly type: 'error';
  readonly error: NekoError;
}

export type DevEvent =
  ReloadedEvent | RemovedEvent | RejectedEvent | CheckedEvent | ValidatedEvent | StateEvent | WatchErrorEvent;

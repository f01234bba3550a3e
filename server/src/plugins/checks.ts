/**
 * Load-time checks on a plugin, in the style of fastify's
 * `lib/plugin-utils.js`: each is small, named for what it checks, and throws
 * a coded NekoError whose message names the culprit file or folder.
 */
import { NekoError } from '../errors.js';
import type { Logic, LogicClass } from '../context/context.js';
import type { PluginSpec } from './spec.js';
import { errorMessage, listWords } from '../format.js';

/**
 * Returns the logic module's named export `Logic`.
 *
 * @param mod the module namespace of the imported logic file
 * @param logicFile the logic file's path, for messages
 * @throws NekoError `NEKO_ERR_PLUGIN_NO_LOGIC_EXPORT` when there is no export
 *   named `Logic` (a default export alone does not count) or it is not a
 *   class or function.
 */
export function checkLogicExport(mod: object, logicFile: string): LogicClass {
  const exported: unknown = (mod as Record<string, unknown>)['Logic'];
  if (typeof exported === 'function') return exported as LogicClass;

  const hint = 'write `export class Logic { async recv(ctx: Context) { … } }` (a named export)';
  if (exported !== undefined) {
    throw new NekoError(
      'NEKO_ERR_PLUGIN_NO_LOGIC_EXPORT',
      `${logicFile} exports Logic as ${describeValue(exported)}, not a class`,
      { hint },
    );
  }
  const names = Object.keys(mod).sort();
  if (names.length === 1 && names[0] === 'default') {
    throw new NekoError(
      'NEKO_ERR_PLUGIN_NO_LOGIC_EXPORT',
      `${logicFile} has only a default export; the server needs a named export Logic`,
      { hint: 'write `export class Logic { … }` instead of `export default class …`' },
    );
  }
  const found = names.length === 0 ? 'it exports nothing' : `it exports ${names.join(', ')}`;
  throw new NekoError(
    'NEKO_ERR_PLUGIN_NO_LOGIC_EXPORT',
    `${logicFile} does not export a class named Logic (${found})`,
    { hint },
  );
}

/**
 * Checks that instances of `LogicClass` have a `recv` method: a function on
 * its prototype chain. A class field holding an arrow function is not on the
 * prototype and does not count.
 *
 * @throws NekoError `NEKO_ERR_PLUGIN_NO_RECV`
 */
export function checkRecv(LogicClass: LogicClass, logicFile: string): void {
  if (findPrototypeMethod(LogicClass.prototype, 'recv')) return;
  throw new NekoError('NEKO_ERR_PLUGIN_NO_RECV', `the Logic class of ${logicFile} has no recv method`, {
    hint: 'add a method `async recv(ctx: Context) { … }` to the Logic class (a method, not a class field)',
  });
}

/**
 * Constructs the plugin's one `Logic` instance, with no arguments.
 *
 * @throws NekoError `NEKO_ERR_PLUGIN_CONSTRUCT`, with the constructor's error as `cause`.
 */
export function constructLogic(LogicClass: LogicClass, logicFile: string): Logic {
  try {
    return new LogicClass();
  } catch (err) {
    throw new NekoError(
      'NEKO_ERR_PLUGIN_CONSTRUCT',
      `new Logic() in ${logicFile} threw: ${errorMessage(err)}`,
      {
        cause: err,
        hint: 'the server constructs Logic once per load with no arguments; make the constructor take none and not throw',
      },
    );
  }
}

/** What {@link checkGreetersUnique} needs to know of a plugin. */
export interface GreeterClaim {
  /** The plugin folder, as it should appear in messages. */
  dir: string;
  spec: PluginSpec;
}

/**
 * Finds greeters declared by more than one plugin folder. A duplicated
 * greeter is served by none of its folders, so every one of them gets an
 * error.
 *
 * @returns for each folder that shares its greeter, a NekoError
 *   `NEKO_ERR_PLUGIN_DUPLICATE_GREETER` naming all the folders, located at
 *   that folder's `$greet` value; empty when every greeter is unique.
 */
export function checkGreetersUnique(plugins: readonly GreeterClaim[]): Map<string, NekoError> {
  const byGreeter = new Map<string, GreeterClaim[]>();
  for (const plugin of plugins) {
    const claims = byGreeter.get(plugin.spec.greeter);
    if (claims === undefined) byGreeter.set(plugin.spec.greeter, [plugin]);
    else claims.push(plugin);
  }

  const errors = new Map<string, NekoError>();
  for (const [greeter, claims] of byGreeter) {
    if (claims.length < 2) continue;
    const message = `greeter ${JSON.stringify(greeter)} is declared by ${listWords(claims.map((c) => c.dir))}`;
    for (const claim of claims) {
      errors.set(
        claim.dir,
        new NekoError('NEKO_ERR_PLUGIN_DUPLICATE_GREETER', message, {
          location: claim.spec.entries.get('greet')?.valueLocation,
          hint: 'give each plugin its own $greet, or remove all but one of these folders',
        }),
      );
    }
  }
  return errors;
}

/** True when `name` is a function found on `proto` or its prototypes, without running getters. */
function findPrototypeMethod(proto: unknown, name: string): boolean {
  let current: unknown = proto;
  while (current !== null && typeof current === 'object' && current !== Object.prototype) {
    const descriptor = Object.getOwnPropertyDescriptor(current, name);
    if (descriptor !== undefined) return typeof descriptor.value === 'function';
    current = Object.getPrototypeOf(current);
  }
  return false;
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value}`;
}

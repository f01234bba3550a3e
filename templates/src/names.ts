/**
 * What a new plugin is called, checked before anything is written: the
 * plugin's display name (`$name`), its greeter (`$greet`), its npm package
 * name and its one-line description. Each `validate*` function follows
 * inquirer's contract: `true` when the value is good, else the message to
 * show. The defaults are derived from the project folder's name.
 */
import { builtinModules } from 'node:module';
import { NekoTemplatesError, type TemplatesErrorCode } from './errors.js';

/** The answers a new plugin is generated from. */
export interface PluginAnswers {
  /** The display name, `$name` in spec.conf: `My Chat`. */
  name: string;
  /** The greeter, `$greet` in spec.conf: `my-chat`. */
  greeter: string;
  /** One line about what the plugin does. May be empty. */
  description: string;
  /** The npm package name of a plugin project: `my-chat`, `@me/my-chat`. */
  packageName: string;
}

/** Greeters the protocol keeps for itself (protocol §3): no plugin may declare them. */
export const RESERVED_GREETERS: readonly string[] = ['auth', 'nekoconnect-server'];

/** The longest greeter a frame can carry: its length travels in one byte. */
const MAX_GREETER_LENGTH = 255;
const MAX_NAME_LENGTH = 100;
const MAX_DESCRIPTION_LENGTH = 200;
const MAX_PACKAGE_NAME_LENGTH = 214;

/** A control character (C0, DEL, C1), line breaks included. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/u;

/**
 * The plugin's display name (`$name`): 1 to 100 characters, no double quote
 * (a spec.conf value has no escapes) and no control character or line break.
 */
export function validatePluginName(name: string): true | string {
  if (name.trim() === '') return 'a plugin name cannot be empty';
  if (name !== name.trim()) return `the plugin name "${name}" starts or ends with a space`;
  if ([...name].length > MAX_NAME_LENGTH) return `a plugin name is at most ${MAX_NAME_LENGTH} characters`;
  if (name.includes('"')) return `a plugin name cannot hold '"': spec.conf values have no escapes`;
  const control = CONTROL.exec(name);
  if (control) return `a plugin name is one line of text; it holds ${describeChar(control[0])}`;
  return true;
}

/**
 * The greeter (`$greet`), by the server's rules: 1 to 255 characters, each
 * printable ASCII (`!` to `~`, so no space), not `auth` or
 * `nekoconnect-server`. It also cannot hold `"`, which spec.conf cannot write.
 */
export function validateGreeter(greeter: string): true | string {
  if (greeter.length === 0) return 'a greeter cannot be empty';
  if (greeter.length > MAX_GREETER_LENGTH) {
    return `a greeter is at most ${MAX_GREETER_LENGTH} characters; this one has ${greeter.length}`;
  }
  for (let i = 0; i < greeter.length; i++) {
    const code = greeter.charCodeAt(i);
    if (code < 0x21 || code > 0x7e) {
      const char = String.fromCodePoint(greeter.codePointAt(i)!);
      return `bad greeter "${greeter}": ${describeChar(char)} at position ${i + 1} is not printable ASCII (0x21-0x7E)`;
    }
  }
  if (greeter.includes('"'))
    return `bad greeter "${greeter}": a greeter cannot hold '"', spec.conf cannot write it`;
  if (RESERVED_GREETERS.includes(greeter)) return `greeter "${greeter}" is reserved by the protocol`;
  return true;
}

/**
 * A name npm accepts for a new package: 1 to 214 characters, lowercase,
 * URL-safe, not starting with `.` or `_`, optionally scoped (`@scope/name`),
 * and not the name of a Node.js core module.
 */
export function validatePackageName(packageName: string): true | string {
  const bad = (why: string): string => `bad package name "${packageName}": ${why}`;
  if (packageName.length === 0) return 'a package name cannot be empty';
  if (packageName.length > MAX_PACKAGE_NAME_LENGTH)
    return bad(`it is longer than ${MAX_PACKAGE_NAME_LENGTH} characters`);
  if (packageName !== packageName.trim()) return bad('it starts or ends with a space');
  if (packageName !== packageName.toLowerCase()) return bad('it has capital letters');
  if (/^[._]/.test(packageName)) return bad("it starts with '.' or '_'");
  if (/[~'!()*]/.test(packageName)) return bad("it holds one of ~'!()*");
  const scoped = /^@([^/]+)\/([^/]+)$/.exec(packageName);
  const parts = scoped ? [scoped[1]!, scoped[2]!] : [packageName];
  for (const part of parts) {
    if (encodeURIComponent(part) !== part)
      return bad('it holds characters that are not URL-safe (use a-z, 0-9, - and .)');
  }
  if (scoped && /^[._]/.test(scoped[2]!)) return bad("the name after the scope starts with '.' or '_'");
  const bare = parts[parts.length - 1]!;
  if (!scoped && (bare === 'node_modules' || bare === 'favicon.ico'))
    return bad('that name is blocked by npm');
  if (!scoped && builtinModules.includes(bare)) return bad('it is the name of a Node.js core module');
  return true;
}

/** The description: one line of at most 200 characters (it may be empty). */
export function validateDescription(description: string): true | string {
  if ([...description].length > MAX_DESCRIPTION_LENGTH) {
    return `a description is at most ${MAX_DESCRIPTION_LENGTH} characters`;
  }
  const control = CONTROL.exec(description);
  if (control) return `a description is one line of text; it holds ${describeChar(control[0])}`;
  return true;
}

/** The validator and error code of each answer, in prompt order. */
const ANSWER_CHECKS = [
  ['name', validatePluginName, 'NEKO_ERR_TEMPLATES_BAD_NAME', 'pick a short display name, e.g. "My Chat"'],
  [
    'greeter',
    validateGreeter,
    'NEKO_ERR_TEMPLATES_BAD_GREETER',
    'use lowercase letters, digits and dashes, e.g. my-chat',
  ],
  ['description', validateDescription, 'NEKO_ERR_TEMPLATES_BAD_DESCRIPTION', 'keep it to one short line'],
  [
    'packageName',
    validatePackageName,
    'NEKO_ERR_TEMPLATES_BAD_PACKAGE_NAME',
    'use lowercase letters, digits and dashes, e.g. my-chat or @me/my-chat',
  ],
] as const satisfies ReadonlyArray<
  readonly [keyof PluginAnswers, (value: string) => true | string, TemplatesErrorCode, string]
>;

/**
 * Checks every answer.
 * @throws NekoTemplatesError `NEKO_ERR_TEMPLATES_BAD_NAME`, `…_BAD_GREETER`,
 *   `…_BAD_DESCRIPTION` or `…_BAD_PACKAGE_NAME` for the first bad answer.
 */
export function checkPluginAnswers(
  answers: Partial<PluginAnswers>,
  keys?: readonly (keyof PluginAnswers)[],
): void {
  for (const [key, validate, code, hint] of ANSWER_CHECKS) {
    if (keys !== undefined && !keys.includes(key)) continue;
    const value = answers[key];
    const verdict = typeof value === 'string' ? validate(value) : `the ${key} is missing`;
    if (verdict !== true) throw new NekoTemplatesError(code, verdict, { hint });
  }
}

/**
 * The answers derived from a project folder's name, as `--yes` takes them:
 * `my-chat` gives the name `My Chat`, the greeter and package `my-chat`.
 * Every value returned is valid.
 */
export function pluginDefaults(folderName: string): PluginAnswers {
  const slug = toSlug(folderName);
  const name = toDisplayName(folderName);
  let packageName = slug === '' ? 'my-plugin' : slug;
  if (validatePackageName(packageName) !== true) packageName = `${packageName}-plugin`;
  let greeter = slug === '' ? 'my-plugin' : slug;
  if (validateGreeter(greeter) !== true) greeter = `${greeter}-plugin`;
  return { name, greeter, description: 'A NekoConnect plugin.', packageName };
}

/** `My Chat!` → `my-chat`: lowercase, URL-safe, words joined by dashes. */
export function toSlug(text: string): string {
  return text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9._]+/g, '-')
    .replace(/^[-._]+|[-._]+$/g, '')
    .slice(0, 64)
    .replace(/[-._]+$/g, '');
}

/** `my-chat` → `My Chat`. */
function toDisplayName(folderName: string): string {
  const words = folderName
    .replace(/["\p{Cc}]/gu, ' ')
    .split(/[\s\-_.]+/u)
    .filter((w) => w !== '');
  const name = words
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join(' ')
    .slice(0, MAX_NAME_LENGTH)
    .trim();
  return name === '' ? 'My Plugin' : name;
}

function describeChar(char: string): string {
  const code = char.codePointAt(0)!;
  const hex = `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
  return code < 0x20 || (code >= 0x7f && code <= 0x9f)
    ? `a control character (${hex})`
    : `character '${char}' (${hex})`;
}

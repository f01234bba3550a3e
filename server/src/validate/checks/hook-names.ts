import type { Finding } from '../problem.js';
import { HOOKS } from './hooks.js';
import { isPluginFile, nameOrSelf, nodeLocation, type LogicClass, type LogicInput } from './logic-input.js';

const HOOK_NAMES: readonly string[] = HOOKS.map((h) => h.name);

/** Names from other frameworks that mean a hook here. */
const ALIASES: Readonly<Record<string, string>> = {
  onconnect: 'onJoin',
  onconnected: 'onJoin',
  onopen: 'onJoin',
  onsessionstart: 'onJoin',
  ondisconnect: 'onLeave',
  ondisconnected: 'onLeave',
  onclose: 'onLeave',
  onsessionend: 'onLeave',
  oninit: 'onLoad',
  onstart: 'onLoad',
  onready: 'onLoad',
  onstop: 'onUnload',
  ondestroy: 'onUnload',
  ondispose: 'onUnload',
  onshutdown: 'onUnload',
};

/**
 * A warning (`NEKO_ERR_VALIDATE_HOOK_NAME`) for each member of `Logic`,
 * declared in the plugin, whose name looks like a lifecycle hook but is not
 * one: a different case (`onjoin`), a typo (`onJion`, `onLeav`), or another
 * framework's name (`onConnect`). The server never calls those.
 */
export function checkHookNames(input: LogicInput, logic: LogicClass): Finding[] {
  const { checker } = input;
  if (logic.instanceType === undefined) return [];
  const findings: Finding[] = [];
  for (const member of checker.getPropertiesOfType(logic.instanceType)) {
    const name = member.name;
    if (HOOK_NAMES.includes(name) || name === 'recv') continue;
    const declaration = member.declarations?.[0];
    if (declaration === undefined || !isPluginFile(input.pluginDir, declaration.getSourceFile().fileName))
      continue;
    const meant = lookalikeHook(name);
    if (meant === undefined) continue;
    findings.push({
      code: 'NEKO_ERR_VALIDATE_HOOK_NAME',
      severity: 'warning',
      message:
        name.toLowerCase() === meant.toLowerCase()
          ? `${name} is not a hook: hook names are case-sensitive, the server calls ${meant}`
          : `the server never calls ${name}; did you mean the hook ${meant}?`,
      hint: `rename it to ${meant} if it should run as that hook, or rename it so it does not look like one`,
      ...nodeLocation(nameOrSelf(declaration)),
    });
  }
  return findings;
}

/** The hook `name` seems meant to be, if any. */
function lookalikeHook(name: string): string | undefined {
  const lower = name.toLowerCase();
  const alias = ALIASES[lower];
  if (alias !== undefined) return alias;
  return HOOK_NAMES.find(
    (hook) => hook.toLowerCase() === lower || editDistance(hook.toLowerCase(), lower) === 1,
  );
}

/** Optimal string alignment distance: insertions, deletions, substitutions and swaps of neighbours. */
function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 1) return 2;
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) {
    const row: number[] = [i];
    for (let j = 1; j <= b.length; j++) {
      if (i === 0) {
        row.push(j);
        continue;
      }
      const prev = rows[i - 1]!;
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d = Math.min(d, rows[i - 2]![j - 2]! + 1);
      row.push(d);
    }
    rows.push(row);
  }
  return rows[a.length]![b.length]!;
}

import { editDistance } from '../../edit-distance.js';
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
  ondisconnected: 'onDisconnect',
  onreconnected: 'onReconnect',
  onresume: 'onReconnect',
  onresumed: 'onReconnect',
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
    (hook) =>
      hook.toLowerCase() === lower ||
      (Math.abs(hook.length - lower.length) <= 1 && editDistance(hook.toLowerCase(), lower) === 1),
  );
}

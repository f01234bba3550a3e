import type { ts } from 'ts-morph';
import type { Finding } from '../problem.js';
import { checkHandlerSignatures } from './handler.js';
import {
  nameOrSelf,
  nodeLocation,
  typeText,
  withArticle,
  type LogicClass,
  type LogicInput,
} from './logic-input.js';

/** The optional lifecycle hooks, and what the server passes to each. */
export const HOOKS = [
  { name: 'onLoad', argument: 'pluginContext', argumentName: 'PluginContext', parameterName: 'plugin' },
  { name: 'onUnload', argument: 'pluginContext', argumentName: 'PluginContext', parameterName: 'plugin' },
  { name: 'onJoin', argument: 'sessionContext', argumentName: 'SessionContext', parameterName: 'ctx' },
  { name: 'onLeave', argument: 'sessionContext', argumentName: 'SessionContext', parameterName: 'ctx' },
  { name: 'onDisconnect', argument: 'sessionContext', argumentName: 'SessionContext', parameterName: 'ctx' },
  { name: 'onReconnect', argument: 'sessionContext', argumentName: 'SessionContext', parameterName: 'ctx' },
  {
    name: 'onSessionGone',
    argument: 'pluginContext',
    argumentName: 'PluginContext',
    parameterName: 'plugin',
    second: { argument: 'sessionGone', argumentName: 'SessionGone', parameterName: 'gone' },
  },
] as const;

/**
 * The lifecycle hooks that `Logic` has match their types: each is a
 * function (the server skips anything else without a word), takes at most
 * the arguments the server passes, to which `PluginContext` (`onLoad`, `onUnload`) or
 * `SessionContext` (`onJoin`, `onLeave`, `onDisconnect`, `onReconnect`) is assignable
 * (`onSessionGone`: `PluginContext`, then `SessionGone`), and returns void or
 * a promise. `NEKO_ERR_VALIDATE_HOOK` otherwise. Hooks are optional: absent
 * ones are fine. In a `.js` file only the shape is checked.
 */
export function checkHooks(input: LogicInput, logic: LogicClass): Finding[] {
  const { checker } = input;
  const instanceType = logic.instanceType;
  if (instanceType === undefined) return [];
  return HOOKS.flatMap((hook): Finding[] => {
    const symbol = checker.getPropertyOfType(instanceType, hook.name);
    if (symbol === undefined) return [];
    const anchor: ts.Node =
      symbol.declarations?.[0] === undefined ? logic.anchor : nameOrSelf(symbol.declarations[0]);
    const type = checker.getNonNullableType(checker.getTypeOfSymbolAtLocation(symbol, anchor));
    const signatures = type.getCallSignatures();
    if (signatures.length === 0) {
      return [
        {
          code: 'NEKO_ERR_VALIDATE_HOOK',
          message: `${hook.name} is ${withArticle(typeText(checker, checker.getBaseTypeOfLiteralType(type)))}, not a function, so the server never calls it`,
          hint: `write it as a method: \`${hook.name}(${hook.parameterName}: ${hook.argumentName}${'second' in hook ? `, ${hook.second.parameterName}: ${hook.second.argumentName}` : ''}) { … }\``,
          ...nodeLocation(anchor),
        },
      ];
    }
    return checkHandlerSignatures(input, signatures, anchor, {
      name: hook.name,
      argument: input.contract[hook.argument],
      argumentName: hook.argumentName,
      parameterName: hook.parameterName,
      ...('second' in hook
        ? {
            second: {
              argument: input.contract[hook.second.argument],
              argumentName: hook.second.argumentName,
              parameterName: hook.second.parameterName,
            },
          }
        : {}),
      parameterCode: 'NEKO_ERR_VALIDATE_HOOK',
      returnCode: 'NEKO_ERR_VALIDATE_HOOK',
      warnNoParameter: false,
    });
  });
}

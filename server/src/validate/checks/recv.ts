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

const METHOD_HINT =
  'add a method `async recv(ctx: Context) { … }` to the Logic class (a method, not a class field)';

/** Names people give recv by mistake, for the hint. */
const RECV_LOOKALIKES = [
  'receive',
  'recieve',
  'Recv',
  'onRecv',
  'onReceive',
  'onMessage',
  'onPacket',
  'handle',
];

/**
 * `Logic.recv` is a method (on the prototype, where the loader looks: a
 * class field does not count), takes one parameter to which the `Context`
 * is assignable, and returns void or a promise.
 *
 * `NEKO_ERR_PLUGIN_NO_RECV` when there is no such method,
 * `NEKO_ERR_VALIDATE_RECV_PARAM` for the parameters (a warning when it
 * takes none), `NEKO_ERR_VALIDATE_RECV_RETURN` for the result. In a `.js`
 * file only the shape is checked.
 */
export function checkRecv(input: LogicInput, logic: LogicClass): Finding[] {
  const { ts: tsApi, checker } = input;
  if (logic.instanceType === undefined) return [];
  const recv = checker.getPropertyOfType(logic.instanceType, 'recv');

  if (recv === undefined) {
    const lookalike = RECV_LOOKALIKES.find(
      (n) => checker.getPropertyOfType(logic.instanceType!, n) !== undefined,
    );
    return [
      {
        code: 'NEKO_ERR_PLUGIN_NO_RECV',
        message: `the Logic class has no recv method${lookalike === undefined ? '' : ` (it has ${lookalike}; the server only calls recv)`}`,
        hint: METHOD_HINT,
        ...nodeLocation(logic.anchor),
      },
    ];
  }

  const declarations = recv.declarations ?? [];
  const first = declarations[0];
  if (first !== undefined && !declarations.some((d) => isPrototypeMethod(tsApi, d))) {
    const what =
      tsApi.isGetAccessorDeclaration(first) || tsApi.isSetAccessorDeclaration(first)
        ? 'an accessor'
        : 'a class field';
    return [
      {
        code: 'NEKO_ERR_PLUGIN_NO_RECV',
        message: `recv is ${what}, not a method: the server looks for recv on the class's prototype`,
        hint: 'write it as a method: `recv(ctx: Context) { … }`',
        ...nodeLocation(nameOrSelf(first)),
      },
    ];
  }

  const anchor = first === undefined ? logic.anchor : nameOrSelf(first);
  const type = checker.getNonNullableType(checker.getTypeOfSymbolAtLocation(recv, anchor));
  const signatures = type.getCallSignatures();
  if (signatures.length === 0) {
    return [
      {
        code: 'NEKO_ERR_PLUGIN_NO_RECV',
        message: `recv is ${withArticle(typeText(checker, checker.getBaseTypeOfLiteralType(type)))}, not a method`,
        hint: METHOD_HINT,
        ...nodeLocation(anchor),
      },
    ];
  }
  return checkHandlerSignatures(input, signatures, anchor, {
    name: 'recv',
    argument: input.contract.context,
    argumentName: 'Context',
    parameterName: 'ctx',
    parameterCode: 'NEKO_ERR_VALIDATE_RECV_PARAM',
    returnCode: 'NEKO_ERR_VALIDATE_RECV_RETURN',
    warnNoParameter: true,
  });
}

/**
 * True for a declaration that puts a function on the prototype: a method,
 * or in JavaScript `Logic.prototype.recv = function …`.
 */
function isPrototypeMethod(tsApi: LogicInput['ts'], node: ts.Declaration): boolean {
  if (tsApi.isMethodDeclaration(node) || tsApi.isMethodSignature(node)) return true;
  const assigned = tsApi.isBinaryExpression(node) ? node.left : node;
  return (
    tsApi.isPropertyAccessExpression(assigned) &&
    tsApi.isPropertyAccessExpression(assigned.expression) &&
    assigned.expression.name.text === 'prototype'
  );
}

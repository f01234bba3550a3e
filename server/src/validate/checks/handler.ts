/**
 * What `recv` and the lifecycle hooks have in common: a method the server
 * calls with one context argument (and, for `onSessionGone`, a second),
 * whose result is nothing or a promise.
 */
import type { ts } from 'ts-morph';
import type { NekoErrorCode } from '../../errors.js';
import type { Finding } from '../problem.js';
import { explainNotAssignable } from './assignability.js';
import { nameOrSelf, nodeLocation, typeText, type LogicInput } from './logic-input.js';

/** How to check one handler. */
export interface HandlerSpec {
  /** `recv`, `onJoin`, … */
  name: string;
  /** What the server passes, e.g. the Context type; undefined: not checked. */
  argument: ts.Type | undefined;
  /** The argument's type name, e.g. `Context`. */
  argumentName: string;
  /** The argument's usual parameter name, e.g. `ctx`. */
  parameterName: string;
  /** A second argument the server passes (`onSessionGone`'s `SessionGone`); none by default. */
  second?: { argument: ts.Type | undefined; argumentName: string; parameterName: string };
  /** The code for a parameter problem. */
  parameterCode: NekoErrorCode;
  /** The code for a return type problem. */
  returnCode: NekoErrorCode;
  /** Whether taking no parameter at all deserves a warning (it does for recv). */
  warnNoParameter: boolean;
}

/**
 * Checks a handler's call signatures. With overloads, one signature that
 * fits is enough; otherwise the first one's findings are returned.
 */
export function checkHandlerSignatures(
  input: LogicInput,
  signatures: readonly ts.Signature[],
  fallbackNode: ts.Node,
  spec: HandlerSpec,
): Finding[] {
  let first: Finding[] | undefined;
  for (const signature of signatures) {
    const findings = checkSignature(input, signature, fallbackNode, spec);
    if (!findings.some((f) => (f.severity ?? 'error') === 'error')) return findings;
    first ??= findings;
  }
  return first ?? [];
}

function checkSignature(
  input: LogicInput,
  signature: ts.Signature,
  fallbackNode: ts.Node,
  spec: HandlerSpec,
): Finding[] {
  const { ts: tsApi, checker, contract, typed } = input;
  const declaration = signature.getDeclaration() as ts.SignatureDeclaration | undefined;
  const nameNode = declaration === undefined ? fallbackNode : nameOrSelf(declaration);
  // A `this` parameter is TypeScript's, not an argument.
  const parameters = (declaration?.parameters ?? []).filter(
    (p) => !(tsApi.isIdentifier(p.name) && p.name.text === 'this'),
  );
  const findings: Finding[] = [];
  const usage =
    spec.second === undefined
      ? `${spec.name}(${spec.parameterName}: ${spec.argumentName})`
      : `${spec.name}(${spec.parameterName}: ${spec.argumentName}, ${spec.second.parameterName}: ${spec.second.argumentName})`;
  const passed = spec.second === undefined ? 1 : 2;

  // 1. How many: the server passes exactly one argument (two for onSessionGone).
  const parameter = parameters[0];
  const parameterSymbol = signature.getParameters()[0];
  if (parameter === undefined || parameterSymbol === undefined) {
    if (spec.warnNoParameter) {
      findings.push({
        code: spec.parameterCode,
        severity: 'warning',
        message: `${spec.name} takes no parameter, so it can neither read the packet nor reply`,
        hint: `take the ${spec.argumentName}: ${usage}`,
        ...nodeLocation(nameNode),
      });
    }
  } else {
    const required = parameters.filter(
      (p) => typed && !checker.isOptionalParameter(p) && p.dotDotDotToken === undefined,
    );
    const extra = required[passed];
    if (extra !== undefined) {
      const passes =
        spec.second === undefined
          ? `one (the ${spec.argumentName})`
          : `two (the ${spec.argumentName} and the ${spec.second.argumentName})`;
      findings.push({
        code: spec.parameterCode,
        message: `${spec.name} requires ${required.length} arguments, but the server passes ${passes}`,
        hint: `make the other parameters optional, or drop them: ${usage}`,
        ...nodeLocation(extra),
      });
    }

    // 2. The one argument: the server's type must be assignable to the parameter's.
    if (typed && spec.argument !== undefined) {
      let parameterType = checker.getTypeOfSymbolAtLocation(parameterSymbol, parameter);
      if (parameter.dotDotDotToken !== undefined) {
        parameterType = checker.getIndexTypeOfType(parameterType, tsApi.IndexKind.Number) ?? parameterType;
      }
      if (!checker.isTypeAssignableTo(spec.argument, parameterType)) {
        const shown = parameter.type?.getText() ?? typeText(checker, parameterType);
        findings.push({
          code: spec.parameterCode,
          message: `${spec.name}(${parameter.name.getText()}: ${shown}) cannot take the ${spec.argumentName} the server passes: ${explainNotAssignable(input, spec.argument, parameterType, spec.argumentName)}`,
          hint: `declare it as ${usage}, with \`import type { ${spec.argumentName} } from 'nekoconnect'\``,
          ...nodeLocation(parameter.type ?? parameter.name),
        });
      }
    }

    // 2b. The second argument, when the server passes one.
    const second = parameters[1];
    const secondSymbol = signature.getParameters()[1];
    if (typed && spec.second?.argument !== undefined && second !== undefined && secondSymbol !== undefined) {
      const secondType = checker.getTypeOfSymbolAtLocation(secondSymbol, second);
      if (
        second.dotDotDotToken === undefined &&
        !checker.isTypeAssignableTo(spec.second.argument, secondType)
      ) {
        const shown = second.type?.getText() ?? typeText(checker, secondType);
        findings.push({
          code: spec.parameterCode,
          message: `${spec.name}(…, ${second.name.getText()}: ${shown}) cannot take the ${spec.second.argumentName} the server passes: ${explainNotAssignable(input, spec.second.argument, secondType, spec.second.argumentName)}`,
          hint: `declare it as ${usage}, with \`import type { ${spec.argumentName}, ${spec.second.argumentName} } from 'nekoconnect'\``,
          ...nodeLocation(second.type ?? second.name),
        });
      }
    }
  }
  if (!typed) return findings;

  // 3. The result: nothing, or a promise the server awaits.
  const returned = checker.getReturnTypeOfSignature(signature);
  if (!checker.isTypeAssignableTo(returned, contract.handlerReturn)) {
    findings.push({
      code: spec.returnCode,
      message: `${spec.name} returns ${typeText(checker, returned)}; the server expects void or a promise`,
      hint: `return nothing (\`: void\`) or make it async (\`async ${spec.name}(…): Promise<void>\`); the server ignores a returned value`,
      ...nodeLocation(declaration?.type ?? nameNode),
    });
  }
  return findings;
}

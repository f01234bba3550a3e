import type { ts } from 'ts-morph';
import type { Finding } from '../problem.js';
import { nodeLocation, type LogicClass, type LogicInput } from './logic-input.js';

const HINT =
  'the server constructs Logic once per load with `new Logic()`: make every constructor parameter optional or give it a default, or set things up in onLoad';

/**
 * `new Logic()` type-checks: the class is not abstract, its constructor is
 * public, and it requires no argument (its own constructor or the one it
 * inherits). `NEKO_ERR_VALIDATE_CONSTRUCTOR` otherwise, at the `abstract`
 * keyword, the `private`/`protected` modifier, or the first required
 * parameter.
 *
 * Follows TypeScript: in a `.js` file a parameter is optional unless JSDoc
 * says otherwise.
 */
export function checkConstructor(input: LogicInput, logic: LogicClass): Finding[] {
  const { ts: tsApi, checker, contract } = input;
  if (logic.instanceType === undefined) return [];
  if (checker.isTypeAssignableTo(logic.valueType, contract.noArgConstructor)) return [];

  const fail = (message: string, node: ts.Node): Finding[] => [
    { code: 'NEKO_ERR_VALIDATE_CONSTRUCTOR', message, hint: HINT, ...nodeLocation(node) },
  ];

  // 1. Abstract: no `new` at all.
  const abstract = logic.declaration && modifier(tsApi, logic.declaration, tsApi.SyntaxKind.AbstractKeyword);
  if (abstract !== undefined) {
    return fail('Logic is abstract, so `new Logic()` is not allowed', abstract);
  }

  // 2. The constructor that needs the fewest arguments tells what is wrong.
  const constructors = logic.valueType
    .getConstructSignatures()
    .map((sig) => sig.getDeclaration() as ts.SignatureDeclaration | undefined)
    .filter(
      (decl): decl is ts.ConstructorDeclaration => decl !== undefined && tsApi.isConstructorDeclaration(decl),
    );
  const required = (decl: ts.ConstructorDeclaration): ts.ParameterDeclaration[] =>
    decl.parameters.filter((p) => !checker.isOptionalParameter(p) && p.dotDotDotToken === undefined);
  const best = [...constructors].sort((a, b) => required(a).length - required(b).length)[0];
  if (best !== undefined) {
    const hidden =
      modifier(tsApi, best, tsApi.SyntaxKind.PrivateKeyword) ??
      modifier(tsApi, best, tsApi.SyntaxKind.ProtectedKeyword);
    if (hidden !== undefined) {
      return fail(
        `the constructor of Logic is ${hidden.getText()}, so \`new Logic()\` is not allowed`,
        hidden,
      );
    }
    const params = required(best);
    const firstRequired = params[0];
    if (firstRequired !== undefined) {
      const owner = best.parent.name?.text;
      const inherited = logic.declaration !== undefined && best.parent !== logic.declaration;
      const whose = inherited
        ? `the constructor Logic inherits from ${owner ?? 'its base class'}`
        : 'the constructor of Logic';
      const n = params.length;
      return fail(
        `${whose} requires ${n} argument${n === 1 ? '' : 's'} (${firstRequired.name.getText()}${n > 1 ? ', …' : ''}), but the server calls \`new Logic()\` with none`,
        firstRequired,
      );
    }
  }

  // 3. Anything else TypeScript refuses (e.g. a constructor type declared elsewhere).
  return fail(
    `\`new Logic()\` does not type-check: ${checker.typeToString(logic.valueType)} needs arguments`,
    logic.anchor,
  );
}

function modifier(tsApi: LogicInput['ts'], node: ts.Node, kind: ts.SyntaxKind): ts.Modifier | undefined {
  if (!tsApi.canHaveModifiers(node)) return undefined;
  return tsApi.getModifiers(node)?.find((m) => m.kind === kind);
}

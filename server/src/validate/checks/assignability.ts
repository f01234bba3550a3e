import type { ts } from 'ts-morph';
import { typeText, withArticle, type LogicInput } from './logic-input.js';
import { listWords } from '../../format.js';

/**
 * Says in a few words why `source` (e.g. the Context) is not assignable to
 * `target` (a parameter's type): the first property it lacks or whose type
 * differs, or the kind of value the target is.
 *
 * @param sourceName how the source type is called in the message, e.g. `Context`
 */
export function explainNotAssignable(
  input: Pick<LogicInput, 'ts' | 'checker'>,
  source: ts.Type,
  target: ts.Type,
  sourceName: string,
): string {
  const { ts: tsApi, checker } = input;
  const F = tsApi.TypeFlags;
  const primitive =
    F.StringLike |
    F.NumberLike |
    F.BooleanLike |
    F.BigIntLike |
    F.ESSymbolLike |
    F.EnumLike |
    F.Undefined |
    F.Null |
    F.Void |
    F.Never;
  const shown = typeText(checker, target);
  if (target.flags & primitive) return `a ${sourceName} is an object, not ${withArticle(shown)}`;
  if (target.isUnion()) return `a ${sourceName} is none of ${shown}`;
  if (target.getCallSignatures().length > 0 && source.getCallSignatures().length === 0) {
    return `a ${sourceName} is not a function`;
  }
  const lacking: string[] = [];
  for (const wanted of checker.getPropertiesOfType(target)) {
    const have = checker.getPropertyOfType(source, wanted.name);
    if (have === undefined) {
      if ((wanted.flags & tsApi.SymbolFlags.Optional) === 0) lacking.push(wanted.name);
      continue;
    }
    const haveType = checker.getTypeOfSymbol(have);
    const wantedType = checker.getTypeOfSymbol(wanted);
    if (lacking.length === 0 && !checker.isTypeAssignableTo(haveType, wantedType)) {
      return `its ${wanted.name} is ${typeText(checker, haveType)}, not ${typeText(checker, wantedType)}`;
    }
  }
  if (lacking.length > 0) {
    const names =
      lacking.length <= 3
        ? listWords(lacking)
        : `${lacking.slice(0, 3).join(', ')} and ${lacking.length - 3} more`;
    return `a ${sourceName} has no ${names}`;
  }
  return `${sourceName} is not assignable to ${shown}`;
}

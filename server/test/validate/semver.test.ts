import { describe, expect, it } from 'vitest';
import { explainSemver, isSemver } from '../../src/validate/semver.js';

describe('semantic versions', () => {
  it('accepts what semver.org allows', () => {
    for (const v of [
      '0.0.0',
      '1.0.0',
      '10.20.30',
      '1.0.0-alpha',
      '1.0.0-alpha.1',
      '1.0.0-0.3.7',
      '1.0.0-x-y-z.--',
      '1.0.0+20130313144700',
      '1.0.0-beta+exp.sha.5114f85',
    ]) {
      expect(isSemver(v), v).toBe(true);
      expect(explainSemver(v), v).toBeUndefined();
    }
  });

  it('refuses the rest, saying why', () => {
    const cases: [string, string][] = [
      ['', 'it is empty'],
      [' 1.0.0', 'it has spaces around it'],
      ['v1.0.0', 'drop the leading "v"'],
      ['1.0', 'it has 2 numbers; a version has three'],
      ['1', 'it has 1 number; a version has three'],
      ['1.0.0.0', 'it has 4 numbers; a version has three'],
      ['01.0.0', 'numbers cannot have leading zeros'],
      ['1.0.0-01', 'expected major.minor.patch, each a whole number'],
      ['one', 'expected major.minor.patch, each a whole number'],
      ['1.0.0+', 'expected major.minor.patch, each a whole number'],
    ];
    for (const [v, why] of cases) {
      expect(isSemver(v), v).toBe(false);
      expect(explainSemver(v), v).toBe(why);
    }
  });
});

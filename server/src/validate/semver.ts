/**
 * Semantic versions (https://semver.org, 2.0.0), for the `$version` entry of
 * spec.conf: `major.minor.patch`, an optional `-pre.release` and an optional
 * `+build`, numbers without leading zeros.
 */

const NUMBER = '0|[1-9]\\d*';
const PRERELEASE_ID = `(?:${NUMBER}|\\d*[A-Za-z-][0-9A-Za-z-]*)`;
const BUILD_ID = '[0-9A-Za-z-]+';
const SEMVER = new RegExp(
  `^(${NUMBER})\\.(${NUMBER})\\.(${NUMBER})` +
    `(?:-(${PRERELEASE_ID}(?:\\.${PRERELEASE_ID})*))?` +
    `(?:\\+(${BUILD_ID}(?:\\.${BUILD_ID})*))?$`,
);

/** True when `version` is a valid semantic version, e.g. `1.0.0`, `2.1.0-beta.1`, `1.0.0+build.5`. */
export function isSemver(version: string): boolean {
  return SEMVER.test(version);
}

/**
 * Why `version` is not a semantic version, in a few words a person can act
 * on (e.g. `drop the leading "v"`); undefined when it is one.
 */
export function explainSemver(version: string): string | undefined {
  if (isSemver(version)) return undefined;
  if (version.trim() === '') return 'it is empty';
  if (version.trim() !== version) return 'it has spaces around it';
  if (/^[vV]/.test(version) && isSemver(version.slice(1))) return 'drop the leading "v"';
  const core = version.split(/[-+]/, 1)[0] ?? '';
  const parts = core.split('.');
  if (parts.every((p) => /^\d+$/.test(p))) {
    if (parts.length < 3)
      return `it has ${parts.length} number${parts.length === 1 ? '' : 's'}; a version has three`;
    if (parts.length > 3) return `it has ${parts.length} numbers; a version has three`;
    if (parts.some((p) => p.length > 1 && p.startsWith('0'))) return 'numbers cannot have leading zeros';
  }
  return 'expected major.minor.patch, each a whole number';
}

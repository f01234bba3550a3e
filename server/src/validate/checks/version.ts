import type { PluginSpec } from '../../plugins/spec.js';
import type { Finding } from '../problem.js';
import { explainSemver } from '../semver.js';

/** `$version` is a semantic version such as `1.0.0`: `NEKO_ERR_VALIDATE_VERSION` at the value otherwise. */
export function checkVersion(spec: PluginSpec): Finding[] {
  const why = explainSemver(spec.version);
  if (why === undefined) return [];
  const entry = spec.entries.get('version');
  return [
    {
      code: 'NEKO_ERR_VALIDATE_VERSION',
      message: `$version ${JSON.stringify(spec.version)} is not a semantic version: ${why}`,
      hint: 'write major.minor.patch, e.g. $version {"1.0.0"}; (a pre-release such as 1.1.0-beta.1 is fine)',
      ...(entry === undefined ? {} : { location: entry.valueLocation }),
    },
  ];
}

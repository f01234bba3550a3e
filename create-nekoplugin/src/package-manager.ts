/**
 * The user's package manager, as the one that ran `create` tells it in
 * `npm_config_user_agent` (`pnpm/9.1.0 npm/? node/v20.19.0 linux x64`).
 */
export type PackageManager = 'npm' | 'pnpm' | 'yarn' | 'bun';

const KNOWN: readonly PackageManager[] = ['npm', 'pnpm', 'yarn', 'bun'];

/** The package manager named first in the user agent; npm when there is none or it is unknown. */
export function detectPackageManager(userAgent: string | undefined): PackageManager {
  const name = userAgent?.split(' ')[0]?.split('/')[0];
  return KNOWN.find((pm) => pm === name) ?? 'npm';
}

/** The command that installs a project's dependencies. */
export function installCommand(pm: PackageManager): { command: string; args: string[] } {
  return { command: pm, args: ['install'] };
}

/** How to run a package.json script: `npm test`, `npm run dev`, `pnpm dev`, `bun run test`. */
export function runScript(pm: PackageManager, script: string): string {
  if (pm === 'npm') return script === 'test' || script === 'start' ? `npm ${script}` : `npm run ${script}`;
  // `bun test` is bun's own test runner, not the script.
  if (pm === 'bun') return `bun run ${script}`;
  return `${pm} ${script}`;
}

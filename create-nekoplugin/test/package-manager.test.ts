import { describe, expect, it } from 'vitest';
import { detectPackageManager, installCommand, runScript } from '../src/package-manager.js';
import { parseCreateArgs } from '../src/cli.js';
import { NekoCreateError, exitCodeFor } from '../src/errors.js';

describe('detectPackageManager', () => {
  it.each([
    ['npm/11.6.0 node/v20.19.0 linux x64 workspaces/false', 'npm'],
    ['pnpm/9.12.0 npm/? node/v20.19.0 linux x64', 'pnpm'],
    ['yarn/4.5.0 npm/? node/v20.19.0 linux x64', 'yarn'],
    ['bun/1.1.30 npm/? node/v20.19.0 linux x64', 'bun'],
    ['cnpm/9.0.0 npm/? node/v20.19.0', 'npm'],
    ['', 'npm'],
    [undefined, 'npm'],
  ])('reads %j as %s', (agent, pm) => {
    expect(detectPackageManager(agent)).toBe(pm);
  });

  it('installs with `<pm> install` and runs scripts the way each package manager does', () => {
    expect(installCommand('yarn')).toEqual({ command: 'yarn', args: ['install'] });
    expect(['test', 'dev', 'validate', 'start'].map((s) => runScript('npm', s))).toEqual([
      'npm test',
      'npm run dev',
      'npm run validate',
      'npm start',
    ]);
    expect(['pnpm', 'yarn', 'bun'].map((pm) => runScript(pm as 'pnpm', 'test'))).toEqual([
      'pnpm test',
      'yarn test',
      'bun run test',
    ]);
  });
});

describe('parseCreateArgs', () => {
  it('reads every flag, long and short', () => {
    expect(
      parseCreateArgs([
        'dir',
        '-n',
        'N',
        '-g',
        'g',
        '-d',
        'D',
        '--package-name',
        'p',
        '-y',
        '-f',
        '--no-install',
        '--no-git',
        '--no-ci',
      ]),
    ).toEqual({
      dir: 'dir',
      name: 'N',
      greeter: 'g',
      description: 'D',
      packageName: 'p',
      yes: true,
      force: true,
      install: false,
      git: false,
      ci: false,
      help: false,
      version: false,
    });
    expect(parseCreateArgs([])).toMatchObject({
      dir: undefined,
      yes: false,
      install: true,
      git: true,
      ci: true,
      force: false,
    });
  });

  it('refuses an unknown flag with NEKO_ERR_CREATE_USAGE, exit code 2', () => {
    let err: unknown;
    try {
      parseCreateArgs(['--nope']);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NekoCreateError);
    expect((err as NekoCreateError).code).toBe('NEKO_ERR_CREATE_USAGE');
    expect(exitCodeFor(err as NekoCreateError)).toBe(2);
  });
});

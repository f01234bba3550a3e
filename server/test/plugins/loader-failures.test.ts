/**
 * Failures that real inputs hardly produce: esbuild failing without a
 * located error, or an unexpected (uncoded) error inside the loader. Both
 * esbuild and the spec reader are mocked here, so these tests live apart.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it, expect, onTestFinished, vi } from 'vitest';
import type * as esbuild from 'esbuild';
import { NekoError } from '../../src/errors.js';
import type * as specModule from '../../src/plugins/spec.js';
import { loadPlugin, loadPluginsDir } from '../../src/plugins/loader.js';

const mocks = vi.hoisted(() => ({
  /** When set, esbuild's build() does this instead of building. */
  build: undefined as undefined | (() => Promise<unknown>),
  /** When set, readSpec() throws it. */
  readSpecError: undefined as unknown,
}));

vi.mock('esbuild', async (importOriginal) => {
  const actual = await importOriginal<typeof esbuild>();
  return {
    ...actual,
    build: (options: Parameters<typeof actual.build>[0]) =>
      mocks.build ? mocks.build() : actual.build(options),
  };
});

vi.mock('../../src/plugins/spec.js', async (importOriginal) => {
  const actual = await importOriginal<typeof specModule>();
  return {
    ...actual,
    readSpec: (dir: string) => {
      if (mocks.readSpecError !== undefined) throw mocks.readSpecError;
      return actual.readSpec(dir);
    },
  };
});

/** A TypeScript plugin at `<new temp folder>/p`; returns its folder. */
async function tsPlugin(): Promise<string> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'neko-loader-fail-'));
  onTestFinished(async () => {
    mocks.build = undefined;
    mocks.readSpecError = undefined;
    await rm(root, { recursive: true, force: true });
  });
  const dir = path.join(root, 'p');
  await mkdir(dir);
  await writeFile(
    path.join(dir, 'spec.conf'),
    '$name {"x"}; $greet {"x"}; $logic {"logic"}; $version {"1.0.0"};\n',
  );
  await writeFile(path.join(dir, 'logic.ts'), 'export class Logic { recv(): void {} }\n');
  return dir;
}

async function rejection(promise: Promise<unknown>): Promise<NekoError> {
  const err = await promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(NekoError);
  return err as NekoError;
}

describe('loader: unusual esbuild failures', () => {
  it('reports an esbuild failure that is not a build failure', async () => {
    const dir = await tsPlugin();
    const crash = new Error('The service was stopped');
    mocks.build = () => Promise.reject(crash);
    const err = await rejection(loadPlugin(dir));
    expect(err.code).toBe('NEKO_ERR_PLUGIN_TRANSPILE');
    expect(err.message).toBe(`cannot transpile ${path.join(dir, 'logic.ts')}: The service was stopped`);
    expect(err.location).toBeUndefined();
    expect(err.cause).toBe(crash);
    expect(err.hint).toBe('see the cause for details');
  });

  it('reports an esbuild error without a location, and several errors', async () => {
    const dir = await tsPlugin();
    const failure = Object.assign(new Error('Build failed with 3 errors'), {
      errors: [{ text: 'Could not read the entry point', location: null }, { text: 'b' }, { text: 'c' }],
      warnings: [],
    });
    mocks.build = () => Promise.reject(failure);
    const err = await rejection(loadPlugin(dir));
    expect(err.code).toBe('NEKO_ERR_PLUGIN_TRANSPILE');
    expect(err.message).toBe(
      `cannot transpile ${path.join(dir, 'logic.ts')}: Could not read the entry point (and 2 more errors)`,
    );
    expect(err.location).toBeUndefined();
  });

  it('reports a build that produced no output', async () => {
    const dir = await tsPlugin();
    mocks.build = () => Promise.resolve({ outputFiles: [], errors: [], warnings: [] });
    const err = await rejection(loadPlugin(dir));
    expect(err.code).toBe('NEKO_ERR_PLUGIN_TRANSPILE');
    expect(err.message).toBe(`cannot transpile ${path.join(dir, 'logic.ts')}: esbuild produced no output`);
  });
});

describe('loadPluginsDir: uncoded errors', () => {
  it('wraps an error without a code so that every failure has one', async () => {
    const dir = await tsPlugin();
    const root = path.dirname(dir);
    const odd = new TypeError('something unexpected');
    mocks.readSpecError = odd;
    const { plugins, failures } = await loadPluginsDir(root);
    expect(plugins).toEqual([]);
    expect(failures).toHaveLength(1);
    expect(failures[0]?.spec).toBeUndefined();
    expect(failures[0]?.error.code).toBe('NEKO_ERR_PLUGIN_IMPORT');
    expect(failures[0]?.error.message).toBe(`loading the plugin in ${dir} failed: something unexpected`);
    expect(failures[0]?.error.cause).toBe(odd);
  });
});

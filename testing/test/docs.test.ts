import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TestClient, createTestServer } from '../src/index.js';
import { PROBE } from './helpers/fixtures.js';

const DOCS = join(import.meta.dirname, '..', '..', 'docs');

/** The public methods of a prototype (not the constructor, getters or `#private` ones). */
function methods(prototype: object): string[] {
  return Object.getOwnPropertyNames(prototype).filter((name) => {
    const descriptor = Object.getOwnPropertyDescriptor(prototype, name)!;
    return name !== 'constructor' && name !== 'toString' && typeof descriptor.value === 'function';
  });
}

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens. */
function slug(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

describe('docs/testing.md', () => {
  it('has a section, with an example, for every method of the server and the client', async () => {
    const doc = await readFile(join(DOCS, 'testing.md'), 'utf8');
    const server = await createTestServer({ plugin: PROBE });
    const calls = [
      ...methods(Object.getPrototypeOf(server) as object).map((m) => `server.${m}`),
      ...methods(TestClient.prototype).map((m) => `client.${m}`),
      'createTestServer',
      'useTestServer',
    ];
    expect(calls).toContain('client.expectStatus');
    for (const call of calls) {
      const section = new RegExp(`^### \`${call.replace('.', '\\.')}\\(.*\\n([\\s\\S]*?)(?=^##)`, 'm').exec(
        doc,
      );
      expect(section, `a "### \`${call}(…)\`" section`).not.toBeNull();
      expect(section![1], `an example in the section of ${call}`).toContain('```ts');
    }
  });

  it('every link from docs/errors.md into it points at a heading', async () => {
    const testing = await readFile(join(DOCS, 'testing.md'), 'utf8');
    const errors = await readFile(join(DOCS, 'errors.md'), 'utf8');
    const anchors = new Set([...testing.matchAll(/^#+ (.+)$/gm)].map((m) => slug(m[1]!)));
    const links = [...errors.matchAll(/\(testing\.md#([^)]+)\)/g)].map((m) => m[1]!);
    expect(links.length).toBeGreaterThanOrEqual(12);
    expect(links.filter((anchor) => !anchors.has(anchor))).toEqual([]);
  });
});

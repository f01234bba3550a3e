import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';
import { createServer, type NekoServer, type ServerOptions } from 'nekoconnect';
import { connect, type ClientPacket, type NekoClient } from 'nekoconnect/client';

export const SECRET = 'example-plugins';

/** Serves one example plugin folder on a free port, closed when the test ends. */
export async function serve(
  plugin: string,
  storage: ServerOptions['storage'] = { backend: 'memory' },
): Promise<{ server: NekoServer; port: number }> {
  const server = createServer({
    secret: SECRET,
    plugins: join(import.meta.dirname, '..', plugin),
    port: 0,
    storage,
  });
  onTestFinished(() => server.close());
  const { port } = await server.listen();
  return { server, port };
}

/** A connected client, closed when the test ends. */
export async function client(port: number): Promise<NekoClient> {
  const c = await connect({ secret: SECRET, port });
  onTestFinished(() => c.close());
  return c;
}

/** A temporary folder, removed when the test ends. */
export async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'neko-plugin-test-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * Pushed packets of a client, in order: `next()` resolves with the next one
 * (or fails after `timeoutMs`, naming what it waited for).
 */
export function pushes(c: NekoClient): { next(timeoutMs?: number): Promise<ClientPacket> } {
  const iterator = c.packets();
  return {
    next(timeoutMs = 3_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no pushed packet within ${timeoutMs} ms`)),
          timeoutMs,
        );
        iterator.next().then(
          (r) => {
            clearTimeout(timer);
            if (r.done) reject(new Error('the connection closed before a pushed packet came'));
            else resolve(r.value);
          },
          (err: unknown) => {
            clearTimeout(timer);
            reject(err instanceof Error ? err : new Error(String(err)));
          },
        );
      });
    },
  };
}

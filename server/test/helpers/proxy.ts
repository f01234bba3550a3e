import { createServer, connect, type Server, type Socket } from 'node:net';
import { onTestFinished } from 'vitest';

/** A TCP relay between clients and a server that a test can cut, as a network failure would. */
export interface Relay {
  /** The port clients connect to. */
  readonly port: number;
  /** The port of 127.0.0.1 new connections are relayed to; set it to switch them to another server. */
  target: number;
  /** Connections relayed so far. */
  readonly accepted: number;
  /** Drops every relayed connection at once, both ends, with no goodbye: a network failure. */
  cut(): void;
  /** Stops accepting (new connections are refused) or starts again. */
  refuse(refusing: boolean): void;
}

/** Starts a relay to 127.0.0.1:`targetPort` on a free port; closed when the test finishes. */
export async function startRelay(targetPort: number): Promise<Relay> {
  const pairs = new Set<[Socket, Socket]>();
  let accepted = 0;
  let refusing = false;
  let target = targetPort;
  const server: Server = createServer((client) => {
    if (refusing) {
      client.destroy();
      return;
    }
    accepted++;
    const upstream = connect({ host: '127.0.0.1', port: target });
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    client.pipe(upstream);
    upstream.pipe(client);
    const end = (): void => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTestFinished(
    () =>
      new Promise<void>((resolve) => {
        for (const [a, b] of pairs) {
          a.destroy();
          b.destroy();
        }
        server.close(() => resolve());
      }),
  );
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('relay has no port');
  return {
    port: address.port,
    get target() {
      return target;
    },
    set target(port: number) {
      target = port;
    },
    get accepted() {
      return accepted;
    },
    cut() {
      for (const [a, b] of pairs) {
        a.resetAndDestroy();
        b.resetAndDestroy();
      }
      pairs.clear();
    },
    refuse(value) {
      refusing = value;
    },
  };
}

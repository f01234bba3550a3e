/**
 * Client of the NekoConnect target: the real client SDK, `connect()` (the
 * handshake) then `request('echo', payload, { op })` per round trip.
 */
import { connect } from '../../server/dist/client/index.js';
import { BENCH_SECRET, ECHO_GREETER, HOST } from '../lib/common.js';

/**
 * @param {import('./index.js').ClientConfig} config
 * @returns {Promise<import('./index.js').BenchClient>}
 */
export async function open(config) {
  const client = await connect({ host: HOST, port: config.port, secret: BENCH_SECRET });
  const { op, payloadBytes } = config;
  return {
    // The SDK's promise itself, with no wrapper: the loop costs the same for every target.
    roundTrip: (payload) => client.request(ECHO_GREETER, payload, { op }),
    check(/** @type {any} */ reply) {
      if (reply.status !== undefined || reply.op !== op || reply.data.length !== payloadBytes) {
        throw new Error(
          `unexpected reply: greeter ${reply.greeter}, op ${reply.op}, ${reply.data.length} bytes`,
        );
      }
    },
    close: () => client.close(),
  };
}

/**
 * Constants shared by the benchmark's processes.
 */

/** Every benchmark socket stays on the loopback interface. */
export const HOST = '127.0.0.1';

/** The secret of the benchmark's NekoConnect server. */
export const BENCH_SECRET = 'nekoconnect-bench-secret';

/** The greeter of plugins/echo. */
export const ECHO_GREETER = 'echo';

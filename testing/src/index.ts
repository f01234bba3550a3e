export {
  TestClient,
  type ClosedInfo,
  type NextOptions,
  type ReconnectOptions,
  type RequestOptions,
  type SendData,
  type SendOptions,
  type WaitOptions,
} from './client.js';
export { ERROR_CODES, NekoTestingError, isNekoTestingError, type TestingErrorCode } from './errors.js';
export type { TestServerConfig, TestServerOptions } from './options.js';
export { TestPacket } from './packet.js';
export {
  createTestServer,
  type ConnectOptions,
  type LogFilter,
  type TestServer,
  type TestSession,
} from './server.js';
export { useTestServer } from './shared.js';

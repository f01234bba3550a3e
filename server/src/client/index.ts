export {
  NekoClient,
  NekoStatusError,
  connect,
  type ClientPacket,
  type ClientSendOptions,
  type ConnectOptions,
  type NekoClientEvents,
  type ClientData,
  type ReconnectOptions,
  type RequestOptions,
} from './client.js';
export { NekoError, isNekoError, type NekoErrorCode } from '../errors.js';

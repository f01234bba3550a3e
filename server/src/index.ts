export type {
  BroadcastOptions,
  Context,
  Group,
  JsonValue,
  Logic,
  LogicClass,
  Packet,
  PluginContext,
  PluginSession,
  Presence,
  PresenceHandler,
  PresenceOwnerOptions,
  PresenceSetOptions,
  RecvOptions,
  SendData,
  SendOptions,
  SendToOptions,
  SendToResult,
  SessionContext,
  SessionGone,
  SessionInfo,
  SessionState,
} from './context/context.js';
export { defineConfig, type NekoConfig, type NekoDashboardConfig } from './config/define-config.js';
export { Dashboard, createDashboard, type CreateDashboardOptions } from './dashboard/dashboard.js';
export type { LogEntry } from './dashboard/log-buffer.js';
export type { LogRun } from './dashboard/log-runs.js';
export { DEFAULT_DASHBOARD_PORT, type DashboardOptions } from './config/dashboard-options.js';
export { ERROR_CODES, NekoError, isNekoError, type NekoErrorCode, type SourceLocation } from './errors.js';
export { Logger, type LogFields, type LogLevel, type LogRecord, type LogSink } from './logging/logger.js';
export type { ServedPlugin } from './plugins/host.js';
export type { LoadedPlugin, PluginLoadFailure } from './plugins/loader.js';
export type { GreeterRoute } from './plugins/router.js';
export type { PluginSpec } from './plugins/spec.js';
export { AUTH_GREETER, DEFAULT_PORT, SERVER_GREETER } from './protocol/constants.js';
export { Status, type StatusCode } from './protocol/status.js';
export { issueToken, type UserToken } from './protocol/token.js';
export {
  DEFAULT_LIMITS,
  type ClusterOptions,
  type Limits,
  type ServerOptions,
  type TlsOptions,
} from './server/options.js';
export type { PluginProblem, PluginReload, PluginStatus, PluginsReport } from './plugins/registry.js';
export { LatencyHistogram, PluginStats, type LatencyPercentiles } from './plugins/stats.js';
export type { ServerConnection } from './server/connection.js';
export { NekoServer, createServer, type CutHandler, type SessionSummary } from './server/server.js';
export type { Transport } from './session/transport.js';
export type {
  Cell,
  Document,
  FindOptions,
  ManagedDatabase,
  PluginDatabase,
  Query,
  RemoveOptions,
  StorageBackend,
  Update,
  UpdateOptions,
} from './storage/database.js';
export { NedbStorage, type NedbStorageOptions } from './storage/nedb/storage.js';
export type {
  CustomStorageSelection,
  MemoryStorageSelection,
  NedbStorageSelection,
  StorageOptions,
} from './storage/select.js';

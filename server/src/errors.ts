/**
 * The one error registry of the `nekoconnect` package.
 *
 * Every error the package throws or reports carries a stable `NEKO_ERR_*`
 * code from this table. `docs/errors.md` has a row for each code (meaning and
 * fix); a test keeps the two in step.
 */
export const ERROR_CODES = {
  // Frames (protocol §2). A decoder error ends the connection.
  NEKO_ERR_FRAME_TOO_LARGE: 'The packet_len of a frame is above the packet limit.',
  NEKO_ERR_FRAME_LENGTH_MISMATCH: 'packet_len does not equal 12 plus the sum of the field lengths.',
  NEKO_ERR_FRAME_EMPTY_FIELD:
    'A field that must have at least one byte (greeter, op, random, hash) is empty.',
  NEKO_ERR_FRAME_NOT_PRINTABLE: 'The greeter, random or hash holds a byte outside printable ASCII.',
  NEKO_ERR_FRAME_BAD_OP: 'The op field is not 1–10 ASCII digits with a value up to 4294967295.',
  NEKO_ERR_FRAME_FIELD_TOO_LONG: 'A field given to the encoder does not fit its length byte.',

  // Sessions (protocol §3–4).
  NEKO_ERR_AUTH_FIRST_PACKET: 'The first packet of a session is not a well-formed auth packet.',
  NEKO_ERR_AUTH_BAD_HASH: 'The hash of a packet does not match any unused server random.',
  NEKO_ERR_SESSION_HANDSHAKE_TIMEOUT: 'The client did not complete the handshake in time.',
  NEKO_ERR_SESSION_IDLE_TIMEOUT: 'The session sent nothing for longer than the idle limit.',
  NEKO_ERR_FRAME_MESSAGE:
    'A WebSocket message was not exactly one binary frame (a text message, several frames, or part of one).',
  NEKO_ERR_WS_PATH: 'A WebSocket upgrade asked for another path than the server’s websocket.path.',
  NEKO_ERR_WS_ORIGIN: 'A WebSocket upgrade came from a browser origin that websocket.origins does not list.',
  NEKO_ERR_SERVER_FULL:
    'A connection was refused: limits.maxConnections are open (TCP and WebSocket together).',
  NEKO_ERR_TLS_HANDSHAKE:
    'A client’s TLS handshake failed (not TLS, an old protocol version, no cipher in common): the connection was closed.',
  NEKO_ERR_AUTH_TOKEN: 'A first packet with a per-user token (op 210) held no valid token id.',
  NEKO_ERR_AUTH_TOKEN_EXPIRED: 'A per-user token had expired when a client authenticated with it.',
  NEKO_ERR_SESSION_RESUME_GONE:
    'A client presented a resume token that no dropped session waits for (unknown, used, or its grace period over).',
  NEKO_ERR_SESSION_RESUME_OVERFLOW:
    'More was sent to a dropped session during its grace period than limits.maxPendingBytes: it ends and cannot be resumed.',
  NEKO_ERR_SESSION_RESUME_HOLDER_GONE:
    'A client resumed on another process of the cluster than the one that held its session, and that process is dead: the resume is refused (410).',
  NEKO_ERR_SESSION_HANDOVER_STATE:
    'A session could not move to the process its client resumed on: a plugin’s ctx.state for it is not structured-clonable (a function, a class instance).',
  NEKO_ERR_SESSION_HANDOVER:
    'A session handed over between processes of the cluster could not be taken in (another NekoConnect version), or a plugin it joined is not served there.',
  NEKO_ERR_SESSION_SLOW_READER:
    'The client stopped reading: the bytes waiting for it would pass the pending-bytes limit.',

  // Plugins: spec.conf, loading, routing.
  NEKO_ERR_SPEC_SYNTAX: 'spec.conf does not follow the `$key {"value"};` format.',
  NEKO_ERR_SPEC_DUPLICATE_KEY: 'spec.conf names the same entry twice.',
  NEKO_ERR_SPEC_UNKNOWN_KEY: 'spec.conf has an unknown key that looks like a misspelled known one.',
  NEKO_ERR_SPEC_MISSING_KEY: 'spec.conf lacks a required entry (name, greet, logic, version).',
  NEKO_ERR_SPEC_BAD_GREETER:
    'The greeter is empty, has a space or a byte outside printable ASCII, or is too long.',
  NEKO_ERR_SPEC_RESERVED_GREETER: 'The greeter is reserved by the protocol (auth, nekoconnect-server).',
  NEKO_ERR_SPEC_BAD_GRACE: 'The $grace entry is not a whole number of seconds from 0 to 3600.',
  NEKO_ERR_SPEC_BAD_LOGIC_PATH: 'The $logic entry holds a path separator or "..".',
  NEKO_ERR_PLUGIN_LOGIC_NOT_FOUND: 'No <logic>.ts, .js or .mjs file exists in the plugin folder.',
  NEKO_ERR_PLUGIN_TRANSPILE: 'The logic file could not be transpiled.',
  NEKO_ERR_PLUGIN_IMPORT: 'The transpiled logic module threw while being imported.',
  NEKO_ERR_PLUGIN_NO_LOGIC_EXPORT: 'The logic module does not export a class named Logic.',
  NEKO_ERR_PLUGIN_NO_RECV: 'The Logic class has no recv method.',
  NEKO_ERR_PLUGIN_CONSTRUCT: 'Constructing the Logic class threw.',
  NEKO_ERR_PLUGIN_DUPLICATE_GREETER: 'Two plugin folders declare the same greeter.',
  NEKO_ERR_PLUGIN_LOADING:
    'The server is still loading its plugins: a greeter not served yet answers 503 until loading ends.',
  NEKO_ERR_PLUGIN_SHUTDOWN:
    'The server began shutting down while a plugin loaded (its load outlasted limits.shutdownTimeoutMs): it was not mounted.',
  NEKO_ERR_PLUGINS_REQUIRED:
    'A plugin failed to load and the server was started with --require-plugins (requirePlugins): it does not start.',
  NEKO_ERR_PLUGINS_DIR: 'The plugins directory does not exist or cannot be read.',
  NEKO_ERR_PLUGIN_HANDLER: "A plugin's recv threw or rejected.",
  NEKO_ERR_PLUGIN_HOOK:
    "A plugin's onLoad, onUnload, onJoin, onLeave, onDisconnect, onReconnect or onSessionGone hook threw or rejected.",
  NEKO_ERR_SPEC_READ: 'spec.conf does not exist or cannot be read.',

  // The Context a plugin receives.
  NEKO_ERR_CONTEXT_RECV_TIMEOUT: 'ctx.recv() waited longer than its timeout.',
  NEKO_ERR_CONTEXT_CLOSED: 'ctx.recv() was waiting when the session closed.',
  NEKO_ERR_CONTEXT_RECV_MISUSE:
    'ctx.recv() was called outside a running handler, or while another wait was pending.',
  NEKO_ERR_CONTEXT_BAD_OP: 'ctx.send() was given an op that is not an integer from 0 to 4294967295.',
  NEKO_ERR_CONTEXT_JSON: 'ctx.json() found data that is not valid JSON.',

  // Server and CLI.
  NEKO_ERR_CONFIG_NO_SECRET: 'No shared secret was given.',
  NEKO_ERR_CONFIG_SECRET_FILE: 'The secret file cannot be read or is empty.',
  NEKO_ERR_CONFIG_SECRET_READABLE: 'The secret file may be read by other users (a warning at start).',
  NEKO_ERR_CONFIG_DASHBOARD_TOKEN:
    'The stable dashboard token (--dashboard-token-file, NEKOCONNECT_DASHBOARD_TOKEN) cannot be read or is not a usable token.',
  NEKO_ERR_CONFIG_INVALID: 'A server option has a value that is not allowed.',
  NEKO_ERR_CONFIG_WORKERS_STORAGE:
    'More than one worker (--workers) was asked for on nedb storage, whose files belong to one process.',
  NEKO_ERR_CONFIG_TLS: 'The TLS key or certificate cannot be read.',
  NEKO_ERR_CONFIG_TLS_KEY: 'The TLS key is not a PEM private key, or is encrypted with a passphrase.',
  NEKO_ERR_CONFIG_TLS_CERT: 'The TLS certificate is not a PEM certificate.',
  NEKO_ERR_CONFIG_TLS_MISMATCH: 'The TLS certificate was not made for the TLS key.',
  NEKO_ERR_CONFIG_LOAD: 'The config file cannot be read, parsed, transpiled or imported.',
  NEKO_ERR_CONFIG_AMBIGUOUS: 'More than one config file exists in the folder.',
  NEKO_ERR_CLI_USAGE: 'The command line has an unknown command, an unknown flag or a bad value.',
  NEKO_ERR_SERVER_LISTEN: 'The server could not listen on the host and port.',
  NEKO_ERR_SERVER_CLOSED:
    'The server was shut down while it started, before it listened: nothing listens (the CLI exits as the shutdown says).',
  NEKO_ERR_METRICS_LISTEN: 'The metrics port (--metrics-port) could not listen on its host and port.',
  NEKO_ERR_SERVER_HANDLER_CUT:
    'A handler still ran when the shutdown stopped waiting (limits.shutdownTimeoutMs): its connection was closed under it.',
  NEKO_ERR_SIGNAL_NO_SERVER:
    'nekoconnect reload or drain found no server on the data directory: no lock file, or its process is gone.',
  NEKO_ERR_SIGNAL_DENIED:
    'nekoconnect reload or drain may not signal the server: it runs as another user, or on another machine.',

  // The client SDK.
  NEKO_ERR_CLIENT_CONNECT: 'The client could not connect or the connection closed during the handshake.',
  NEKO_ERR_CLIENT_AUTH: 'The server refused the handshake, or its reply did not prove it knows the secret.',
  NEKO_ERR_CLIENT_STATUS: 'The server answered a request with an error status.',
  NEKO_ERR_CLIENT_TIMEOUT: 'A request got no answer in time.',
  NEKO_ERR_CLIENT_DROPPED:
    'The connection dropped while a request waited; the client never sends it again (the plugin may have acted on it).',
  NEKO_ERR_CLIENT_SERVER_SHUTDOWN:
    'The server closed the connection because it shuts down or drains (a 503 just before the close).',
  NEKO_ERR_CLIENT_CLOSED: 'The connection closed while a request waited, or a call came after close().',
  NEKO_ERR_CLIENT_PROTOCOL: 'The server sent a frame the client cannot decode.',
  NEKO_ERR_CLIENT_DATA:
    'The data given to request() or send() cannot be sent: not a string, bytes, a plain object or an array, or not JSON-serializable.',

  // Storage: the plugin databases.
  NEKO_ERR_STORAGE_CORRUPT: 'A data file holds a line that is not a stored document; it is left untouched.',
  NEKO_ERR_STORAGE_UNREADABLE: 'A data file cannot be read: a directory is in its place, or no permission.',
  NEKO_ERR_STORAGE_WRITE: 'The data directory or a data file cannot be created or written.',
  NEKO_ERR_STORAGE_QUERY:
    'A query, update or document was refused (bad operator, reserved field, unique key).',
  NEKO_ERR_STORAGE_CELL: 'A key-value cell has a bad name, or its value does not survive JSON.',
  NEKO_ERR_STORAGE_LOCKED:
    'Another running server holds the data directory (its lock file names the pid); nedb files belong to one server.',
  NEKO_ERR_STORAGE_CLOSED: 'The database was used after close().',
  NEKO_ERR_STORAGE_UNREACHABLE:
    'The PostgreSQL server of the storage URL cannot be reached, or refused its user, password or database.',
  NEKO_ERR_STORAGE_SCHEMA:
    "The PostgreSQL database's schema was migrated by a newer NekoConnect than this one.",
  NEKO_ERR_CLUSTER_UNREACHABLE:
    "The cluster's Redis server cannot be reached, or refused the URL's password.",
  NEKO_ERR_CLUSTER_LOCAL_DATA:
    "A process of a cluster keeps plugin data in nedb files of its own, which the cluster's other processes do not share (a warning at start).",
  NEKO_ERR_WORKER_EXITED:
    'A worker of --workers exited without being asked to (a crash, a kill): the primary starts another.',
  NEKO_ERR_WORKER_NO_ANSWER:
    "A worker did not answer the primary's dashboard or /metrics in time, or exited before answering.",
  NEKO_ERR_PRESENCE_KEY:
    'A presence key, hash field, set member or channel is not a string of 1 to 1024 characters, or holds half of a surrogate pair.',
  NEKO_ERR_PRESENCE_VALUE:
    'A presence value is not a JSON value or is over 1 MiB as JSON, an increment is not a whole number, or a counter would pass 2^53 - 1.',
  NEKO_ERR_PRESENCE_TTL: 'A presence TTL is not a whole number of ms from 1 to 100 days.',
  NEKO_ERR_PRESENCE_OWNER:
    "A presence write names an owner other than 'session', or asks for { owner: 'session' } from a context without a session.",
  NEKO_ERR_PRESENCE_TYPE:
    'A presence key was used as another kind of entry than it holds (a value, a hash, a set), or incr() met a value that is not a whole number.',
  NEKO_ERR_DATA_LINE:
    'A line given to `nekoconnect data import` is not a document or cell record; nothing was imported.',
  NEKO_ERR_DATA_FILE:
    'The file of `nekoconnect data export --out` or `data import` cannot be written or read.',

  // Validation: `nekoconnect validate` (spec.conf problems reuse the NEKO_ERR_SPEC_* codes).
  NEKO_ERR_VALIDATE_VERSION: 'The $version entry is not a semantic version (major.minor.patch).',
  NEKO_ERR_VALIDATE_CONSTRUCTOR: 'The Logic class cannot be constructed without arguments.',
  NEKO_ERR_VALIDATE_RECV_PARAM: "recv's parameters do not fit the one Context the server passes.",
  NEKO_ERR_VALIDATE_RECV_RETURN: 'recv returns something other than void or a promise.',
  NEKO_ERR_VALIDATE_HOOK: 'A lifecycle hook (onLoad, onUnload, onJoin, onLeave) does not match its type.',
  NEKO_ERR_VALIDATE_HOOK_NAME: 'A member of Logic looks like a misspelt lifecycle hook (a warning).',
  NEKO_ERR_VALIDATE_TYPESCRIPT: 'TypeScript reports an error in a file of the plugin.',
  NEKO_ERR_VALIDATE_TSCONFIG: "The plugin's tsconfig.json cannot be read or has errors.",
  NEKO_ERR_VALIDATE_CONTRACT: 'The nekoconnect package the plugin sees does not export the Context types.',
  NEKO_ERR_VALIDATE_NO_PLUGINS: 'The folder to validate is not a plugin folder and holds no plugin folder.',
  NEKO_ERR_VALIDATE_DISPOSED: 'A validator was used after dispose().',
  NEKO_ERR_VALIDATE_OP:
    "An entry of the plugin's Op table is not a usable op code (not a whole number, out of range, or a duplicate).",

  // Packages: `.ncp` files (`nekoconnect pack`, and serving or validating one).
  NEKO_ERR_PACKAGE_CORRUPT:
    'A .ncp package is not a readable zip (truncated, damaged) or lacks one of its entries.',
  NEKO_ERR_PACKAGE_TOO_LARGE: 'A .ncp package is above the size or entry limits of reading one.',
  NEKO_ERR_PACKAGE_MANIFEST:
    "A .ncp package's manifest.json or ops.json has the wrong shape, or disagrees with its spec.conf.",
  NEKO_ERR_PACKAGE_HASH: 'An entry of a .ncp package does not match the sha256 its manifest lists.',
  NEKO_ERR_PACKAGE_INCOMPATIBLE: 'A .ncp package was built for NekoConnect versions that exclude this one.',
  NEKO_ERR_PACK_BUNDLE: '`nekoconnect pack` could not bundle the logic file.',
  NEKO_ERR_PACK_WRITE: '`nekoconnect pack` could not write the package.',

  // Dev: `nekoconnect dev`, the watcher that hot-reloads plugins.
  NEKO_ERR_DEV_WATCH:
    'The file watcher of `nekoconnect dev` failed (e.g. the system limit of watched files).',
  NEKO_ERR_DEV_SECRET: 'The development secret file cannot be read or written.',
  NEKO_ERR_DEV_VALIDATOR:
    'The validator itself failed on a change; the change was loaded without validation.',
  NEKO_ERR_DEV_RELOAD:
    'Reloading a plugin failed unexpectedly (not a plugin error); the last good version keeps serving.',
  NEKO_ERR_DEV_STATE_NOT_JSON:
    "A session's ctx.state holds a value JSON cannot carry (a warning of nekoconnect dev; the plugin keeps serving).",

  // The dashboard: its HTTP server and data API.
  NEKO_ERR_DASHBOARD_LISTEN: 'The dashboard could not listen on its host and port.',
  NEKO_ERR_DASHBOARD_ASSETS: "The dashboard page's files are missing from the package.",
  NEKO_ERR_DASHBOARD_TOKEN: 'A dashboard request came without the access token, or with a wrong one.',
  NEKO_ERR_DASHBOARD_HOST:
    'A dashboard request named a host that is not loopback, or came from another origin.',
  NEKO_ERR_DASHBOARD_BAD_REQUEST: 'A dashboard API request has a bad method, parameter or content type.',
  NEKO_ERR_DASHBOARD_NOT_FOUND: 'No dashboard page, API path, session or plugin matches the request.',
  NEKO_ERR_DASHBOARD_INTERNAL: 'The dashboard failed to answer a request (a bug); the server keeps serving.',

  // The dashboard's Playground: simulated clients and Copy as test.
  NEKO_ERR_PLAYGROUND_OFF:
    'The Playground is off: not turned on (start without --playground, dev --no-playground) or an open dashboard.',
  NEKO_ERR_PLAYGROUND_DATA:
    'The data typed in the Playground is not what its kind says (JSON that does not parse, bad hex).',
  NEKO_ERR_PLAYGROUND_SEND: 'A Playground request has a bad greeter, op, mode, timeout or label.',
  NEKO_ERR_PLAYGROUND_CLIENT_UNKNOWN: 'No Playground client has that id.',
  NEKO_ERR_PLAYGROUND_CLIENT_CLOSED: 'The Playground client is closed: it cannot send any more.',
  NEKO_ERR_PLAYGROUND_TOO_MANY_CLIENTS: 'The Playground holds its maximum number of clients.',
  NEKO_ERR_PLAYGROUND_TRIMMED:
    'Copy as test was asked for a timeline that lost its oldest events (past the cap per client).',
} as const;

export type NekoErrorCode = keyof typeof ERROR_CODES;

/** Where in a file an error points. Lines and columns count from 1. */
export interface SourceLocation {
  file: string;
  line: number;
  column: number;
}

export interface NekoErrorOptions {
  cause?: unknown;
  location?: SourceLocation;
  /** A short hint on how to fix it, shown under the message. */
  hint?: string;
}

/**
 * The one error class of the package: a stable code, a message, and where it
 * points. It is also the base of the coded errors of `@nekoconnect/testing`
 * (`NekoTestingError`), which carry the codes of that package's registry as
 * `Code`.
 */
export class NekoError<Code extends string = NekoErrorCode> extends Error {
  readonly code: Code;
  readonly location: SourceLocation | undefined;
  readonly hint: string | undefined;

  constructor(code: NoInfer<Code>, message: string, options: NekoErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'NekoError';
    this.code = code;
    this.location = options.location;
    this.hint = options.hint;
  }
}

/**
 * True when `err` is a NekoError with a code of this package's registry,
 * optionally the given one (a subclass with codes of its own, such as
 * `NekoTestingError`, is not).
 */
export function isNekoError(err: unknown, code?: NekoErrorCode): err is NekoError {
  return (
    err instanceof NekoError &&
    Object.hasOwn(ERROR_CODES, err.code) &&
    (code === undefined || err.code === code)
  );
}

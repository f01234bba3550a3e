/**
 * The dashboard API's answers: a refusal with its HTTP status, JSON bodies,
 * coded error bodies, and the method check every route makes.
 */
import type { ServerResponse } from 'node:http';
import { NekoError, type NekoErrorCode } from '../errors.js';

/** A request the API refuses, with its status. */
export class ApiError extends NekoError {
  readonly status: number;
  constructor(status: number, code: NekoErrorCode, message: string, hint?: string) {
    super(code, message, hint === undefined ? {} : { hint });
    this.status = status;
  }
}

/** A coded error that carries the status the API answers it with (an {@link ApiError}, a Playground refusal). */
export type StatusError = NekoError & { readonly status: number };

export function sendJson(res: ServerResponse, body: unknown, status = 200): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  });
  res.end(text);
}

/** `{ error: { code, message, hint? } }` with the error's status. */
export function sendError(res: ServerResponse, err: StatusError): void {
  const hint = err.hint === undefined ? {} : { hint: err.hint };
  sendJson(res, { error: { code: err.code, message: err.message, ...hint } }, err.status);
}

export function notFound(message: string): ApiError {
  return new ApiError(404, 'NEKO_ERR_DASHBOARD_NOT_FOUND', message);
}

/** A 405 unless `method` is one of `methods`. */
export function allow(method: string, methods: readonly string[]): void {
  if (!methods.includes(method)) {
    throw new ApiError(
      405,
      'NEKO_ERR_DASHBOARD_BAD_REQUEST',
      `${method} is not allowed here; use ${methods.join(' or ')}`,
    );
  }
}

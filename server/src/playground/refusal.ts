/**
 * A refusal of the Playground, with the HTTP status its API answers it with.
 * On its own, so that the dashboard's routes know it without loading the
 * Playground (the client SDK, Copy as test) on a server that has none.
 */
import { NekoError, type NekoErrorCode } from '../errors.js';

export class PlaygroundError extends NekoError {
  readonly status: number;
  constructor(status: number, code: NekoErrorCode, message: string, hint?: string) {
    super(code, message, hint === undefined ? {} : { hint });
    this.status = status;
  }
}

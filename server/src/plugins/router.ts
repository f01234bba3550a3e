import { NekoError } from '../errors.js';
import type { PluginHost, ServedPlugin } from './host.js';

/**
 * Where a greeter leads now, as `server.route()` tells: to the plugin
 * serving it; to a plugin that failed to load (clients get 503); nowhere
 * (404).
 */
export type GreeterRoute =
  | { readonly kind: 'plugin'; readonly host: ServedPlugin }
  | { readonly kind: 'unavailable'; readonly greeter: string; readonly error: NekoError }
  | { readonly kind: 'missing' };

/** Where a greeter leads. */
export type Route =
  | { readonly kind: 'plugin'; readonly host: PluginHost }
  | { readonly kind: 'unavailable'; readonly greeter: string; readonly error: NekoError }
  | { readonly kind: 'missing' };

const MISSING: Route = { kind: 'missing' };

function loadingError(greeter: string): NekoError {
  return new NekoError(
    'NEKO_ERR_PLUGIN_LOADING',
    `the server is still loading its plugins; "${greeter}" may be one of them`,
    { hint: 'try again in a moment: readiness (GET /readyz) turns true once loading ends' },
  );
}

/**
 * Greeter → plugin. A greeter with a loaded plugin routes to its host; one
 * whose plugin failed to load is `unavailable` (status 503); any other is
 * `missing` (404). Mounting replaces a route in one step, so a packet is
 * always routed to one whole version of a plugin.
 */
export class Router {
  readonly #routes = new Map<string, Route>();
  /** Plugin loads under way; while there are any, a greeter without a route may be one not loaded yet. */
  #loading = 0;

  resolve(greeter: string): Route {
    const route = this.#routes.get(greeter);
    if (route !== undefined) return route;
    return this.#loading > 0 ? { kind: 'unavailable', greeter, error: loadingError(greeter) } : MISSING;
  }

  /**
   * Marks a load of plugins under way until the returned function is
   * called: meanwhile a greeter nothing serves yet answers 503 (it may be
   * among those loading), not 404.
   */
  whileLoading(): () => void {
    this.#loading++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.#loading--;
    };
  }

  /** Routes the host's greeter to it. */
  mount(host: PluginHost): void {
    this.#routes.set(host.greeter, { kind: 'plugin', host });
  }

  /** Marks a greeter as served by a plugin that is not loaded. */
  markUnavailable(greeter: string, error: NekoError): void {
    this.#routes.set(greeter, { kind: 'unavailable', greeter, error });
  }

  /** Forgets a greeter: it answers 404 again. */
  unmount(greeter: string): void {
    this.#routes.delete(greeter);
  }

  /** Every mounted plugin host. */
  hosts(): PluginHost[] {
    const out: PluginHost[] = [];
    for (const route of this.#routes.values()) if (route.kind === 'plugin') out.push(route.host);
    return out;
  }

  /** Every greeter with a route, and the route. */
  routes(): ReadonlyMap<string, Route> {
    return this.#routes;
  }
}

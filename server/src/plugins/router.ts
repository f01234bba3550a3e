import type { NekoError } from '../errors.js';
import type { LoadedPlugin } from './loader.js';

/** Where a greeter leads. */
export type Route =
  | { readonly kind: 'plugin'; readonly plugin: LoadedPlugin }
  | { readonly kind: 'unavailable'; readonly greeter: string; readonly error: NekoError }
  | { readonly kind: 'missing' };

const MISSING: Route = { kind: 'missing' };

/**
 * Greeter → plugin. A greeter with a loaded plugin routes to it; one whose
 * plugin failed to load is `unavailable` (status 503); any other is
 * `missing` (404). Mounting replaces a route in one step, so a packet is
 * always routed to one whole version of a plugin.
 */
export class Router {
  readonly #routes = new Map<string, Route>();

  resolve(greeter: string): Route {
    return this.#routes.get(greeter) ?? MISSING;
  }

  /** Routes the plugin's greeter to it. */
  mount(plugin: LoadedPlugin): void {
    this.#routes.set(plugin.spec.greeter, { kind: 'plugin', plugin });
  }

  /** Marks a greeter as served by a plugin that is not loaded. */
  markUnavailable(greeter: string, error: NekoError): void {
    this.#routes.set(greeter, { kind: 'unavailable', greeter, error });
  }

  /** Forgets a greeter: it answers 404 again. */
  unmount(greeter: string): void {
    this.#routes.delete(greeter);
  }

  /** Every loaded plugin. */
  plugins(): LoadedPlugin[] {
    const out: LoadedPlugin[] = [];
    for (const route of this.#routes.values()) if (route.kind === 'plugin') out.push(route.plugin);
    return out;
  }

  /** Every greeter with a route, and the route. */
  routes(): ReadonlyMap<string, Route> {
    return this.#routes;
  }
}

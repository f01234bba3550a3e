import { describe, expect, expectTypeOf, it } from 'vitest';
import type {
  Context,
  Logic,
  PluginContext,
  PluginSession,
  SessionContext,
  SessionState,
} from '../../src/context/context.js';

/** A plugin's state: fields set later are optional; JSON-serialisable. */
interface Player {
  nick?: string;
  opponent?: string;
}

/** A plugin typed with its state: `ctx.state.opponent` without casts (checked by tsc). */
class TypedLogic {
  onJoin(ctx: SessionContext<Player>): void {
    ctx.state.nick = ctx.session.id;
  }

  async recv(ctx: Context<Player>): Promise<void> {
    const other = ctx.sessions().find((s) => s.id !== ctx.session.id);
    if (other) ctx.state.opponent = other.state.nick;
    ctx.send(`${ctx.state.nick ?? ''} vs ${ctx.state.opponent ?? 'nobody'}`);
    await Promise.resolve();
  }
}

describe('typed state', () => {
  it('types ctx.state and the states of ctx.sessions() with Context<State>', () => {
    expectTypeOf<Context<Player>['state']>().toEqualTypeOf<Player>();
    expectTypeOf<Context<Player>['state']['opponent']>().toEqualTypeOf<string | undefined>();
    expectTypeOf<ReturnType<PluginContext<Player>['sessions']>>().toEqualTypeOf<PluginSession<Player>[]>();
    // Without a type argument nothing changes for existing plugins.
    expectTypeOf<Context['state']>().toEqualTypeOf<SessionState>();
    // A typed logic class still is a Logic.
    const logic: Logic = new TypedLogic();
    expect(typeof logic.recv).toBe('function');
  });
});

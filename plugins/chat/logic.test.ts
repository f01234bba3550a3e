import { describe, expect, it } from 'vitest';
import { createTestServer } from '@nekoconnect/testing';
import { Op } from './logic.js';

describe('chat plugin', () => {
  it('two clients see each other join, talk, rename and leave', async () => {
    const server = await createTestServer({ plugin: import.meta.dirname });
    const mimi = await server.connect({ name: 'mimi' });
    // Joining is the first packet: mimi picks a nickname.
    expect((await mimi.request('chat', 'mimi', { op: Op.Nick })).json()).toEqual({ nick: 'mimi' });

    const tama = await server.connect({ name: 'tama' });
    const ack = await tama.request('chat', 'tama', { op: Op.Nick });
    expect([ack.op, ack.json()]).toEqual([Op.Nick, { nick: 'tama' }]);
    // mimi is told that a guest joined, then that the guest is now tama.
    const joined = await mimi.next();
    expect([joined.op, joined.json()]).toEqual([Op.Joined, { nick: 'guest-2' }]);
    const renamed = await mimi.next();
    expect([renamed.op, renamed.json()]).toEqual([Op.Renamed, { from: 'guest-2', nick: 'tama' }]);

    // A message reaches everyone else, not its sender (who gets status 200).
    expect((await mimi.request('chat', 'hello tama', { op: Op.Say })).status).toBe(200);
    const heard = await tama.next();
    expect([heard.op, heard.json()]).toEqual([Op.Say, { nick: 'mimi', text: 'hello tama' }]);
    expect(mimi.unread()).toEqual([]);
    expect((await tama.request('chat', 'hi mimi', { op: Op.Say })).status).toBe(200);
    expect((await mimi.next()).json()).toEqual({ nick: 'tama', text: 'hi mimi' });

    const who = await mimi.request('chat', '', { op: Op.Who });
    expect(who.json<{ nicks: string[] }>().nicks.sort()).toEqual(['mimi', 'tama']);
    // The nicknames live in each session's state.
    expect(server.sessions().map((s) => s.plugins.chat?.nick)).toEqual(['mimi', 'tama']);

    // tama leaves: mimi is told.
    await tama.close();
    const left = await mimi.next();
    expect([left.op, left.json()]).toEqual([Op.Left, { nick: 'tama' }]);
    expect((await mimi.request('chat', '', { op: Op.Who })).json()).toEqual({ nicks: ['mimi'] });
  });

  it('refuses a taken or invalid nickname, an empty message and an unknown op, with op 9', async () => {
    const server = await createTestServer({ plugin: import.meta.dirname });
    const a = await server.connect();
    const b = await server.connect();
    await a.request('chat', 'neko', { op: Op.Nick });
    const taken = await b.request('chat', 'neko', { op: Op.Nick });
    expect([taken.op, taken.json()]).toEqual([Op.Error, { error: 'the nickname neko is taken' }]);
    const spaced = await b.request('chat', 'two words', { op: Op.Nick });
    expect(spaced.json<{ error: string }>().error).toMatch(/no spaces/);
    const unknown = await b.request('chat', '', { op: 42 });
    expect(unknown.json<{ error: string }>().error).toMatch(/^unknown op 42/);
    const empty = await b.request('chat', '', { op: Op.Say });
    expect(empty.op).toBe(Op.Error);
    // Nothing of this reached a: only b's arrival.
    expect((await a.next()).op).toBe(Op.Joined);
    expect(a.unread()).toEqual([]);
  });

  it('releases a nickname when its session leaves or renames, and never hands out a guest name someone took', async () => {
    const server = await createTestServer({ plugin: import.meta.dirname });
    const a = await server.connect();
    // a is guest-1; it takes the name the next guest would get.
    expect((await a.request('chat', 'guest-2', { op: Op.Nick })).json()).toEqual({ nick: 'guest-2' });
    const b = await server.connect();
    await b.request('chat', '', { op: Op.Who });
    expect((await a.next()).json()).toEqual({ nick: 'guest-3' });
    // guest-1 is free again since a renamed; b takes it, then gives it up for neko.
    expect((await b.request('chat', 'guest-1', { op: Op.Nick })).json()).toEqual({ nick: 'guest-1' });
    expect((await b.request('chat', 'neko', { op: Op.Nick })).json()).toEqual({ nick: 'neko' });
    // Renaming to one's own nickname is no conflict.
    expect((await b.request('chat', 'neko', { op: Op.Nick })).json()).toEqual({ nick: 'neko' });
    expect((await a.request('chat', '', { op: Op.Who })).json<{ nicks: string[] }>().nicks.sort()).toEqual([
      'guest-2',
      'neko',
    ]);
    await b.close();
    let told = await a.next();
    while (told.op !== Op.Left) told = await a.next();
    expect(told.json()).toEqual({ nick: 'neko' });
    const c = await server.connect();
    expect((await c.request('chat', 'neko', { op: Op.Nick })).json()).toEqual({ nick: 'neko' });
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AUTH_GREETER, SERVER_GREETER } from '../../server/src/protocol/constants.js';
import { isValidGreeter } from '../../server/src/plugins/spec.js';
import {
  RESERVED_GREETERS,
  checkPluginAnswers,
  isNekoTemplatesError,
  pluginDefaults,
  toSlug,
  validateDescription,
  validateGreeter,
  validatePackageName,
  validatePluginName,
} from '../src/index.js';

describe('validateGreeter', () => {
  it('accepts printable ASCII without spaces', () => {
    for (const g of ['chat', 'my-chat', 'Game_2048', '!~', 'a'.repeat(255), "it's"])
      expect(validateGreeter(g)).toBe(true);
  });

  it.each([
    ['', 'a greeter cannot be empty'],
    [
      'my chat',
      `bad greeter "my chat": character ' ' (U+0020) at position 3 is not printable ASCII (0x21-0x7E)`,
    ],
    [
      'tab\there',
      'bad greeter "tab\there": a control character (U+0009) at position 4 is not printable ASCII (0x21-0x7E)',
    ],
    ['ねこ', `bad greeter "ねこ": character 'ね' (U+306D) at position 1 is not printable ASCII (0x21-0x7E)`],
    ['say"hi', `bad greeter "say"hi": a greeter cannot hold '"', spec.conf cannot write it`],
    ['auth', 'greeter "auth" is reserved by the protocol'],
    ['nekoconnect-server', 'greeter "nekoconnect-server" is reserved by the protocol'],
    ['a'.repeat(256), 'a greeter is at most 255 characters; this one has 256'],
  ])('refuses %j', (greeter, message) => {
    expect(validateGreeter(greeter)).toBe(message);
  });

  it('keeps the reserved greeters of the protocol', () => {
    expect([...RESERVED_GREETERS].sort()).toEqual([AUTH_GREETER, SERVER_GREETER].sort());
  });

  it('agrees with the server on every string, except the double quote that spec.conf cannot write', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ maxLength: 300 }), fc.string({ unit: 'binary-ascii', maxLength: 20 })),
        (g) => {
          const server = isValidGreeter(g) && !RESERVED_GREETERS.includes(g) && !g.includes('"');
          expect(validateGreeter(g) === true).toBe(server);
        },
      ),
    );
  });
});

describe('validatePluginName', () => {
  it('accepts one line of text, unicode included', () => {
    for (const n of [
      'Chat',
      'My Chat',
      'ねこ チャット 🐱',
      "Tom & Jerry's <room>",
      '$money',
      'x'.repeat(100),
    ]) {
      expect(validatePluginName(n)).toBe(true);
    }
  });

  it.each([
    ['', 'a plugin name cannot be empty'],
    ['   ', 'a plugin name cannot be empty'],
    [' Chat', 'the plugin name " Chat" starts or ends with a space'],
    ['say "hi"', `a plugin name cannot hold '"': spec.conf values have no escapes`],
    ['two\nlines', 'a plugin name is one line of text; it holds a control character (U+000A)'],
    ['x'.repeat(101), 'a plugin name is at most 100 characters'],
  ])('refuses %j', (name, message) => {
    expect(validatePluginName(name)).toBe(message);
  });
});

describe('validatePackageName', () => {
  it('accepts what npm accepts for a new package', () => {
    for (const p of ['my-chat', 'chat2', '@me/my-chat', 'a.b', 'x'.repeat(214)])
      expect(validatePackageName(p)).toBe(true);
  });

  it.each([
    ['', 'a package name cannot be empty'],
    ['My-Chat', 'bad package name "My-Chat": it has capital letters'],
    ['.hidden', `bad package name ".hidden": it starts with '.' or '_'`],
    ['_private', `bad package name "_private": it starts with '.' or '_'`],
    [
      'my chat',
      'bad package name "my chat": it holds characters that are not URL-safe (use a-z, 0-9, - and .)',
    ],
    ['wow!', `bad package name "wow!": it holds one of ~'!()*`],
    ['@me/_x', `bad package name "@me/_x": the name after the scope starts with '.' or '_'`],
    ['a/b', 'bad package name "a/b": it holds characters that are not URL-safe (use a-z, 0-9, - and .)'],
    ['http', 'bad package name "http": it is the name of a Node.js core module'],
    ['node_modules', 'bad package name "node_modules": that name is blocked by npm'],
    ['x'.repeat(215), `bad package name "${'x'.repeat(215)}": it is longer than 214 characters`],
  ])('refuses %j', (name, message) => {
    expect(validatePackageName(name)).toBe(message);
  });
});

describe('validateDescription', () => {
  it('accepts one line, or nothing', () => {
    expect([validateDescription(''), validateDescription('Answers "hello" & counts.')]).toEqual([true, true]);
  });

  it('refuses several lines and long text', () => {
    expect(validateDescription('a\nb')).toBe(
      'a description is one line of text; it holds a control character (U+000A)',
    );
    expect(validateDescription('x'.repeat(201))).toBe('a description is at most 200 characters');
  });
});

describe('checkPluginAnswers', () => {
  it('throws the code of the first bad answer', () => {
    const good = { name: 'Chat', greeter: 'chat', description: '', packageName: 'chat' };
    expect(() => checkPluginAnswers(good)).not.toThrow();
    const cases = [
      [{ name: 'a"b' }, 'NEKO_ERR_TEMPLATES_BAD_NAME'],
      [{ greeter: 'auth' }, 'NEKO_ERR_TEMPLATES_BAD_GREETER'],
      [{ description: 'a\nb' }, 'NEKO_ERR_TEMPLATES_BAD_DESCRIPTION'],
      [{ packageName: 'Chat' }, 'NEKO_ERR_TEMPLATES_BAD_PACKAGE_NAME'],
    ] as const;
    for (const [bad, code] of cases) {
      let thrown: unknown;
      try {
        checkPluginAnswers({ ...good, ...bad });
      } catch (err) {
        thrown = err;
      }
      expect(isNekoTemplatesError(thrown, code), code).toBe(true);
    }
  });

  it('checks only the keys asked for', () => {
    expect(() =>
      checkPluginAnswers({ name: 'Chat', greeter: 'chat', description: '' }, ['name', 'greeter']),
    ).not.toThrow();
    expect(() => checkPluginAnswers({ name: 'Chat' })).toThrow('the greeter is missing');
  });
});

describe('pluginDefaults', () => {
  it.each([
    ['my-chat', { name: 'My Chat', greeter: 'my-chat', packageName: 'my-chat' }],
    ['dice_game', { name: 'Dice Game', greeter: 'dice_game', packageName: 'dice_game' }],
    ['Dice Game', { name: 'Dice Game', greeter: 'dice-game', packageName: 'dice-game' }],
    ['Café Neko!', { name: 'Café Neko!', greeter: 'cafe-neko', packageName: 'cafe-neko' }],
    ['auth', { name: 'Auth', greeter: 'auth-plugin', packageName: 'auth' }],
    ['http', { name: 'Http', greeter: 'http', packageName: 'http-plugin' }],
    ['.hidden', { name: 'Hidden', greeter: 'hidden', packageName: 'hidden' }],
    ['ねこ', { name: 'ねこ', greeter: 'my-plugin', packageName: 'my-plugin' }],
    ['say "hi"', { name: 'Say Hi', greeter: 'say-hi', packageName: 'say-hi' }],
  ])('derives valid answers from %j', (folder, expected) => {
    const defaults = pluginDefaults(folder);
    expect(defaults).toEqual({ ...expected, description: 'A NekoConnect plugin.' });
    expect(() => checkPluginAnswers(defaults)).not.toThrow();
  });

  it('derives valid answers from any folder name', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 80 }), (folder) => {
        expect(() => checkPluginAnswers(pluginDefaults(folder))).not.toThrow();
      }),
    );
  });

  it('slugs text for greeters and package names', () => {
    expect([toSlug('My Chat!'), toSlug('--a--b--'), toSlug('v1.2'), toSlug('')]).toEqual([
      'my-chat',
      'a-b',
      'v1.2',
      '',
    ]);
  });
});

/**
 * URLs as they may be shown: with their password as `***`. A database or
 * Redis URL's password never leaves the module that connects with it;
 * every log line, error, dashboard answer and code frame shows these forms.
 */

const MASK = '***';

/**
 * The URL with its password (in the user part, or a `password=` parameter)
 * replaced by `***`. In a string that is not a URL, everything from the first
 * `:` of the user part to the last `@` is masked, so a malformed URL is safe
 * to show too.
 */
export function shownUrl(url: string): string {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (parsed === undefined || !parsed.host) {
    return url
      .replace(/^((?:[^/]*\/\/)?[^:/@]*:)[^]*@/, `$1${MASK}@`)
      .replace(/([?&]password=)[^&#]*/gi, `$1${MASK}`);
  }
  if (parsed.password !== '') parsed.password = MASK;
  for (const name of [...parsed.searchParams.keys()]) {
    if (name.toLowerCase() === 'password') parsed.searchParams.set(name, MASK);
  }
  // URL adds a `/` to a URL without a path (`redis://host:6379`): show it as it was written.
  const bare = parsed.pathname === '/' && parsed.search === '' && parsed.hash === '' && !/\/$/.test(url);
  return bare ? parsed.href.slice(0, -1) : parsed.href;
}

/** A text (a line of a config file) with the password of every `scheme://user:password@` in it shown as `***`. */
export function maskUrlPasswords(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/[^\s:/@"'`]*:)[^\s@/"'`]+@/gi, `$1${MASK}@`);
}

/**
 * The dashboard's access token in the page: taken from the address bar
 * (where the URL the server printed carries it) and dropped from there at
 * once, kept for this tab's session only.
 */

const TOKEN_KEY = 'nekoconnect.dashboard.token';

/** The token from `?token=` (then removed from the address bar) or from this tab's storage; null when none. */
export function initToken(): string | null {
  let fromUrl: string | null = null;
  try {
    const params = new URLSearchParams(location.search);
    fromUrl = params.get('token');
    if (params.has('token')) {
      params.delete('token');
      const query = params.toString();
      history.replaceState(
        history.state,
        '',
        `${location.pathname}${query ? `?${query}` : ''}${location.hash}`,
      );
    }
  } catch {
    // an odd URL: keep going without one
  }
  let stored: string | null = null;
  try {
    if (fromUrl) sessionStorage.setItem(TOKEN_KEY, fromUrl);
    stored = sessionStorage.getItem(TOKEN_KEY);
  } catch {
    // sessionStorage unavailable (privacy mode): the token lives in memory for this page only
  }
  return fromUrl || stored || null;
}

/** Opens the page again with a pasted token, as the server prints it: the page stores it and drops it from the address bar. */
export function openWithToken(value: string): void {
  location.search = `?token=${encodeURIComponent(value)}`;
}

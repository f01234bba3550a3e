import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { openWithToken } from '../token.js';

/** What the page shows when it has no token, or a refused one: where to find it, and a field to paste it. */
export function AuthBox({ hadToken }: { hadToken: boolean }): JSX.Element {
  const [value, setValue] = useState('');
  return (
    <div class="auth-required" id="auth-required" role="alert">
      <div class="auth-box">
        <h2>Access token needed</h2>
        <p class="auth-message" id="auth-message">
          This dashboard needs its access token: open the URL the server printed (it ends in ?token=…)
        </p>
        <p class="auth-detail" id="auth-detail" hidden={!hadToken}>
          The token this page has was refused.
        </p>
        <form
          class="auth-form"
          id="auth-form"
          onSubmit={(event) => {
            event.preventDefault();
            const token = value.trim();
            // Through the URL, as the server printed it: the page stores it and takes it out of the address bar.
            if (token) openWithToken(token);
          }}
        >
          <label for="auth-token">Or paste the token here:</label>
          <input
            id="auth-token"
            type="password"
            autocomplete="off"
            spellcheck={false}
            value={value}
            onInput={(event) => setValue(event.currentTarget.value)}
          />
          <button type="submit" class="button">
            Use token
          </button>
        </form>
      </div>
    </div>
  );
}

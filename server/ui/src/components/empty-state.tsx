import type { JSX } from 'preact';

/** A panel's "nothing here" line; `failed` when a first load failed (the reason is in the status line). */
export function EmptyState({
  text,
  small,
  failed,
}: {
  text: string;
  small?: boolean;
  failed?: boolean;
}): JSX.Element {
  return <div class={`empty-state${small ? ' empty-small' : ''}${failed ? ' load-failed' : ''}`}>{text}</div>;
}

/** What a panel says when its first load failed. */
export const loadFailed = (what: string): string =>
  `Could not load ${what}; retrying. The reason is at the bottom of the page.`;

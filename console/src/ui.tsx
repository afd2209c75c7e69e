// The console's small shared pieces: navigation, loading, errors, paging, transaction links and
// the action button viewers cannot use (the server refuses their actions anyway).
import type { ComponentChildren, JSX } from 'preact';
import { useCallback, useEffect, useState } from 'preact/hooks';
import { ApiError, canAct } from './api/http.ts';

export const base = '/console';

let navigateListener: (() => void) | null = null;
export function onNavigate(listener: () => void): void {
  navigateListener = listener;
}

export function navigate(to: string): void {
  history.pushState(null, '', to);
  navigateListener?.();
}

export function Link(props: { href: string; children: ComponentChildren; class?: string }) {
  const onClick = (event: MouseEvent): void => {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
    event.preventDefault();
    navigate(props.href);
  };
  return (
    <a href={props.href} onClick={onClick} class={props.class}>
      {props.children}
    </a>
  );
}

export interface Loaded<T> {
  readonly data: T | undefined;
  readonly error: Error | undefined;
  readonly reload: () => void;
}

/** Loads on mount and whenever `key` changes; `reload` loads again. */
export function useLoad<T>(load: () => Promise<T>, key: string): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: Error }>({});
  const [generation, setGeneration] = useState(0);
  useEffect(() => {
    let live = true;
    load().then(
      (data) => live && setState({ data }),
      (error: unknown) => live && setState({ error: error instanceof Error ? error : new Error(String(error)) }),
    );
    return () => {
      live = false;
    };
  }, [key, generation]);
  const reload = useCallback(() => setGeneration((value) => value + 1), []);
  return { data: state.data, error: state.error, reload };
}

export function ErrorBox(props: { error: Error | undefined }) {
  if (props.error === undefined) return null;
  const detail = props.error instanceof ApiError ? ` (${props.error.code}${props.error.field === undefined ? '' : `, ${props.error.field}`})` : '';
  return (
    <p role="alert" class="error">
      {props.error.message}
      {detail}
    </p>
  );
}

export function Loading<T>(props: { loaded: Loaded<T>; children: (data: T) => ComponentChildren }) {
  if (props.loaded.error !== undefined) return <ErrorBox error={props.loaded.error} />;
  if (props.loaded.data === undefined) return <p aria-busy="true">Loading…</p>;
  return <>{props.children(props.loaded.data)}</>;
}

/** An action only an operator may take: hidden for a viewer, who sees why instead. */
export function ActionButton(props: { onClick: () => void | Promise<void>; children: ComponentChildren; disabled?: boolean; name?: string }) {
  const [busy, setBusy] = useState(false);
  if (!canAct()) return null;
  const run = async (): Promise<void> => {
    setBusy(true);
    try {
      await props.onClick();
    } finally {
      setBusy(false);
    }
  };
  return (
    <button type="button" name={props.name} disabled={busy || props.disabled === true} onClick={() => void run()}>
      {props.children}
    </button>
  );
}

export function ViewerNote() {
  return canAct() ? null : <p class="muted">Read-only: you are signed in as a viewer.</p>;
}

let explorerTemplate: string | null = null;
export async function loadSettings(): Promise<void> {
  const response = await fetch(`${base}/settings.json`, { credentials: 'same-origin' });
  if (response.ok) explorerTemplate = ((await response.json()) as { explorer_tx_url: string | null }).explorer_tx_url;
}

/** A transaction hash, linked to the configured explorer (CONSOLE_EXPLORER_TX_URL) when there is one. */
export function TxHash(props: { hash: string | null | undefined }) {
  if (props.hash === null || props.hash === undefined) return <span class="muted">—</span>;
  const short = props.hash.length > 20 ? `${props.hash.slice(0, 10)}…${props.hash.slice(-8)}` : props.hash;
  if (explorerTemplate === null) return <code title={props.hash}>{short}</code>;
  return (
    <a href={explorerTemplate.replace('{tx}', encodeURIComponent(props.hash))} target="_blank" rel="noreferrer noopener" title={props.hash}>
      <code>{short}</code>
    </a>
  );
}

export function When(props: { at: string | null | undefined }) {
  if (props.at === null || props.at === undefined) return <span class="muted">—</span>;
  return <time dateTime={props.at}>{props.at.replace('T', ' ').replace(/\.\d+Z$/, 'Z')}</time>;
}

/** Cursor paging: the cursors of the pages before this one are kept for "Previous". */
export function usePager(): { cursor: string | undefined; next: (cursor: string) => void; previous: (() => void) | undefined; reset: () => void } {
  const [cursors, setCursors] = useState<string[]>([]);
  return {
    cursor: cursors[cursors.length - 1],
    next: (cursor) => setCursors([...cursors, cursor]),
    previous: cursors.length === 0 ? undefined : () => setCursors(cursors.slice(0, -1)),
    reset: () => setCursors([]),
  };
}

export function Pager(props: { nextCursor: string | null; pager: ReturnType<typeof usePager> }) {
  const { previous } = props.pager;
  const nextCursor = props.nextCursor;
  return (
    <nav class="pager" aria-label="Pages">
      <button type="button" disabled={previous === undefined} onClick={() => previous?.()}>
        Previous
      </button>
      <button type="button" disabled={nextCursor === null} onClick={() => nextCursor !== null && props.pager.next(nextCursor)}>
        Next
      </button>
    </nav>
  );
}

export function Field(props: { label: string; children: ComponentChildren }) {
  return (
    <div class="field">
      <dt>{props.label}</dt>
      <dd>{props.children}</dd>
    </div>
  );
}

export function Select(props: { label: string; value: string; options: readonly string[]; onChange: (value: string) => void; name?: string }) {
  return (
    <label>
      {props.label}{' '}
      <select name={props.name} value={props.value} onChange={(event: JSX.TargetedEvent<HTMLSelectElement>) => props.onChange(event.currentTarget.value)}>
        {props.options.map((option) => (
          <option key={option} value={option}>
            {option === '' ? 'any' : option}
          </option>
        ))}
      </select>
    </label>
  );
}

export function TextInput(props: { label: string; value: string; onInput: (value: string) => void; name?: string; type?: string; placeholder?: string }) {
  return (
    <label>
      {props.label}{' '}
      <input
        name={props.name}
        type={props.type ?? 'text'}
        value={props.value}
        placeholder={props.placeholder}
        onInput={(event: JSX.TargetedEvent<HTMLInputElement>) => props.onInput(event.currentTarget.value)}
      />
    </label>
  );
}

/** A JSON object the document does not yet describe field by field (see console/README.md). */
export type Untyped = Record<string, unknown>;

export function textOf(value: unknown): string {
  if (value === null || value === undefined) return '—';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

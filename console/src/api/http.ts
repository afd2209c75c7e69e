// The console's one way to the admin API: same-origin fetch with the session cookie, the CSRF token
// on every action, and the project's rejection shape turned into an Error with its code and field.
// Response types come from admin-api.ts (generated from /api/openapi.json), never restated here.
import type { paths } from './admin-api.ts';

type JsonContent<Response> = Response extends { content: { 'application/json': infer Body } } ? Body : never;
type Method = 'get' | 'put' | 'post' | 'delete';
type Operation<Path extends keyof paths, M extends Method> = paths[Path][M];
/** The success body (2xx, JSON) of an operation of the document. */
export type OkBody<Path extends keyof paths, M extends Method = 'get'> =
  Operation<Path, M> extends { responses: infer Responses }
    ? JsonContent<Responses[Extract<keyof Responses, 200 | 201 | 202>]>
    : never;

export type Role = 'viewer' | 'operator';

export interface Session {
  readonly actor: string;
  readonly role: Role;
  readonly csrfToken: string;
}

let session: Session | null = null;
const sessionListeners = new Set<(session: Session | null) => void>();

export function currentSession(): Session | null {
  return session;
}

export function onSessionChange(listener: (session: Session | null) => void): () => void {
  sessionListeners.add(listener);
  return () => sessionListeners.delete(listener);
}

function setSession(next: Session | null): void {
  session = next;
  for (const listener of sessionListeners) listener(next);
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly field: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

async function errorOf(response: Response): Promise<ApiError> {
  const body: unknown = await response.json().catch(() => null);
  const error: unknown = typeof body === 'object' && body !== null && 'error' in body ? body.error : null;
  if (typeof error === 'object' && error !== null) {
    const { code, message, field } = error as { code?: unknown; message?: unknown; field?: unknown };
    return new ApiError(
      response.status,
      typeof code === 'string' ? code : 'error',
      typeof field === 'string' ? field : undefined,
      typeof message === 'string' ? message : response.statusText,
    );
  }
  return new ApiError(response.status, 'http_error', undefined, `${response.status} ${response.statusText}`);
}

/** One admin API call. `path` is the concrete path (ids filled in); `typed` names its OpenAPI path for the body type. */
export async function call<Body>(method: 'GET' | 'PUT' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<Body> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  // Every action carries the session's CSRF token: the server refuses a cookie-authenticated
  // non-GET request without it.
  if (method !== 'GET' && session !== null) headers['x-csrf-token'] = session.csrfToken;
  const response = await fetch(path, { method, headers, credentials: 'same-origin', ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  if (response.status === 401 && !path.startsWith('/api/session')) setSession(null);
  if (!response.ok) throw await errorOf(response);
  if (response.status === 204) return undefined as Body;
  return (await response.json()) as Body;
}

/** GET `path` (ids filled in), typed by `typed`, its path in the OpenAPI document. */
export function get<Path extends keyof paths>(_typed: Path, path: string): Promise<OkBody<Path>> {
  return call<OkBody<Path>>('GET', path);
}

type SessionBody = OkBody<'/api/session', 'post'>;

function sessionOf(body: SessionBody): Session {
  return { actor: body.actor, role: body.role, csrfToken: body.csrf_token };
}

export async function logIn(token: string): Promise<Session> {
  const next = sessionOf(await call<SessionBody>('POST', '/api/session', { token }));
  setSession(next);
  return next;
}

/** A reloaded page gets its CSRF token back from its cookie's session (the token is kept in memory only). */
export async function resumeSession(): Promise<Session | null> {
  try {
    const next = sessionOf(await call<SessionBody>('GET', '/api/session'));
    setSession(next);
    return next;
  } catch {
    setSession(null);
    return null;
  }
}

export async function logOut(): Promise<void> {
  try {
    await call<undefined>('DELETE', '/api/session');
  } finally {
    setSession(null);
  }
}

export function canAct(): boolean {
  return session?.role === 'operator';
}

/** Query text of the defined entries. */
export function query(parameters: Record<string, string | undefined>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(parameters)) if (value !== undefined && value !== '') search.set(name, value);
  const text = search.toString();
  return text === '' ? '' : `?${text}`;
}


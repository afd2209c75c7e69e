// Keyset pagination of the admin's list endpoints. A cursor is opaque to callers: the base64url of
// the JSON array of the last row's sort key (for example [created_at, id]). The next page is the
// rows strictly after that key in the list's order — never an OFFSET — so a row inserted while a
// caller pages neither shifts a page nor appears twice, and a page costs the same at any depth.
import { rejection } from '../../core/http/http-errors.ts';

export const pageLimitMin = 1;
export const pageLimitMax = 200;
export const pageLimitDefault = 50;

/** The sort key of a row: text parts only (times as ISO 8601, ids as text), compared in SQL. */
export type SortKey = readonly string[];

export interface Page<T> {
  readonly items: readonly T[];
  /** Absent (null) on the last page. */
  readonly next_cursor: string | null;
}

export function encodeCursor(key: SortKey): string {
  return Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');
}

const cursorLengthMax = 1_024;
const base64urlPattern = /^[A-Za-z0-9_-]+$/;

function invalidCursor(): Error {
  return rejection(400, 'invalid_cursor', 'cursor', 'a next_cursor returned by this list', 'cursor must be a next_cursor returned by the same list.');
}

/** The sort key a cursor carries; `arity` parts, each matching `partPatterns[i]`, else 400 naming `cursor`. */
export function decodeCursor(text: string, partPatterns: readonly RegExp[]): SortKey {
  if (text.length === 0 || text.length > cursorLengthMax || !base64urlPattern.test(text)) throw invalidCursor();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    throw invalidCursor();
  }
  if (!Array.isArray(parsed) || parsed.length !== partPatterns.length) throw invalidCursor();
  const parts: string[] = [];
  for (const [index, pattern] of partPatterns.entries()) {
    const part: unknown = parsed[index];
    if (typeof part !== 'string' || !pattern.test(part)) throw invalidCursor();
    parts.push(part);
  }
  // Refuse a cursor that does not re-encode to itself: one key, one cursor.
  if (encodeCursor(parts) !== text) throw invalidCursor();
  return parts;
}

/** `limit` query text → 1..200, default 50; else 400 naming `limit`. */
export function parsePageLimit(text: unknown): number {
  if (text === undefined) return pageLimitDefault;
  if (typeof text !== 'string' || !/^[1-9][0-9]{0,2}$/.test(text) || Number(text) > pageLimitMax) {
    throw rejection(400, 'invalid_query', 'limit', `an integer from ${pageLimitMin} to ${pageLimitMax}`, `limit must be an integer from ${pageLimitMin} to ${pageLimitMax}.`);
  }
  return Number(text);
}

/**
 * The page out of `limit + 1` fetched rows: the extra row only says there is a next page, whose
 * cursor is the key of the last row shown.
 */
export function pageOf<Row, Item>(rows: readonly Row[], limit: number, keyOf: (row: Row) => SortKey, view: (row: Row) => Item): Page<Item> {
  const shown = rows.slice(0, limit);
  const last = shown.at(-1);
  return { items: shown.map(view), next_cursor: rows.length > limit && last !== undefined ? encodeCursor(keyOf(last)) : null };
}

/** A cursor's time part: ISO 8601 in UTC with microseconds, as PostgreSQL keeps a timestamptz (a JS Date would drop them and repeat rows). */
export const isoInstantPattern = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

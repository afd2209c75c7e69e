// Bounds on the shape of a JSON text, checked by one linear pass over the raw text before anything
// parses or walks it. The parser and the signature's canonical form are only safe on bodies
// within these bounds: without them a body nested a few thousand levels deep overflows the stack
// of a recursive walk before the signature was even checked. Pure: no I/O.
import { HttpRejection, parseJsonBody } from '../../core/http/http-errors.ts';

export interface JsonShapeLimits {
  /** Containers ({ or [) open at once; an IPN uses 2 (the body and its `fee` object). */
  depthMax: number;
  /** Members of one object or elements of one array. */
  entriesPerContainerMax: number;
  /** Members and elements of all containers together. */
  entriesTotalMax: number;
}

/** Far above any IPN NOWPayments sends (about 25 fields, depth 2), far below any stack limit. */
export const ipnJsonShapeLimits: JsonShapeLimits = Object.freeze({
  depthMax: 16,
  entriesPerContainerMax: 256,
  entriesTotalMax: 1_024,
});

export type JsonShapeProblem =
  | { kind: 'too_deep'; limit: number }
  | { kind: 'too_many_entries_in_container'; limit: number }
  | { kind: 'too_many_entries'; limit: number };

/**
 * The first limit the text breaks, or null. Only structure outside strings is counted; the text
 * need not be valid JSON (the parser that runs next rejects that), so the count is an upper
 * bound for invalid text and exact for valid text.
 */
export function findJsonShapeProblem(text: string, limits: JsonShapeLimits): JsonShapeProblem | null {
  // Entries of each open container; its length is the depth. Never longer than depthMax + 1.
  const entryCounts: number[] = [];
  let awaitingFirstEntry = false;
  let entriesTotal = 0;
  let inString = false;
  let escaped = false;

  const countEntry = (): JsonShapeProblem | null => {
    const depth = entryCounts.length;
    if (depth === 0) return null;
    const count = (entryCounts[depth - 1] ?? 0) + 1;
    entryCounts[depth - 1] = count;
    entriesTotal += 1;
    if (count > limits.entriesPerContainerMax) return { kind: 'too_many_entries_in_container', limit: limits.entriesPerContainerMax };
    if (entriesTotal > limits.entriesTotalMax) return { kind: 'too_many_entries', limit: limits.entriesTotalMax };
    return null;
  };

  for (let index = 0; index < text.length; index += 1) {
    const character = text.charCodeAt(index);
    if (inString) {
      if (escaped) escaped = false;
      else if (character === 0x5c /* \ */) escaped = true;
      else if (character === 0x22 /* " */) inString = false;
      continue;
    }
    if (character === 0x20 || character === 0x09 || character === 0x0a || character === 0x0d) continue;
    const closes = character === 0x7d /* } */ || character === 0x5d; /* ] */
    if (awaitingFirstEntry && !closes) {
      awaitingFirstEntry = false;
      const problem = countEntry();
      if (problem !== null) return problem;
    }
    awaitingFirstEntry = false;
    if (character === 0x22) {
      inString = true;
    } else if (character === 0x7b /* { */ || character === 0x5b /* [ */) {
      if (entryCounts.length >= limits.depthMax) return { kind: 'too_deep', limit: limits.depthMax };
      entryCounts.push(0);
      awaitingFirstEntry = true;
    } else if (closes) {
      entryCounts.pop();
    } else if (character === 0x2c /* , */) {
      const problem = countEntry();
      if (problem !== null) return problem;
    }
  }
  return null;
}

/** The answer to a body that breaks a shape limit: 400 for depth, 413 for too many entries. */
export function jsonShapeRejection(problem: JsonShapeProblem): HttpRejection {
  switch (problem.kind) {
    case 'too_deep':
      return new HttpRejection(400, {
        code: 'json_too_deep',
        message: `The body nests objects and arrays more than ${problem.limit} levels deep.`,
        field: 'body',
        rule: `nesting depth at most ${problem.limit}`,
      });
    case 'too_many_entries_in_container':
      return new HttpRejection(413, {
        code: 'json_too_many_entries',
        message: `An object or array of the body has more than ${problem.limit} entries.`,
        field: 'body',
        rule: `at most ${problem.limit} entries per object or array`,
      });
    case 'too_many_entries':
      return new HttpRejection(413, {
        code: 'json_too_many_entries',
        message: `The body has more than ${problem.limit} entries in all.`,
        field: 'body',
        rule: `at most ${problem.limit} entries in all`,
      });
  }
}

/** parseJsonBody (lossless numbers), after the shape check: never a recursive walk of an unbounded body. */
export function parseBoundedJsonBody(body: unknown, limits: JsonShapeLimits): unknown {
  const text = Buffer.isBuffer(body) ? body.toString('utf8') : '';
  const problem = findJsonShapeProblem(text, limits);
  if (problem !== null) throw jsonShapeRejection(problem);
  return parseJsonBody(body);
}

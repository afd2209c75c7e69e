// Proves the JSON shape check alone (no I/O): for any JSON text it reports a problem exactly when
// the depth or an entry count computed from the parsed value breaks a limit, and it handles
// texts far deeper than any stack in one linear pass.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { findJsonShapeProblem, ipnJsonShapeLimits, type JsonShapeLimits } from './json-limits.ts';

interface Shape {
  depth: number;
  entriesMaxPerContainer: number;
  entriesTotal: number;
}

function shapeOf(value: unknown): Shape {
  if (value === null || typeof value !== 'object') return { depth: 0, entriesMaxPerContainer: 0, entriesTotal: 0 };
  const children = Array.isArray(value) ? (value as unknown[]) : Object.values(value);
  const shapes = children.map(shapeOf);
  return {
    depth: 1 + Math.max(0, ...shapes.map((shape) => shape.depth)),
    entriesMaxPerContainer: Math.max(children.length, ...shapes.map((shape) => shape.entriesMaxPerContainer)),
    entriesTotal: children.length + shapes.reduce((sum, shape) => sum + shape.entriesTotal, 0),
  };
}

const small: JsonShapeLimits = { depthMax: 3, entriesPerContainerMax: 4, entriesTotalMax: 8 };

describe('findJsonShapeProblem', () => {
  it('flags a text exactly when its parsed value breaks a limit', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 5 }), (value) => {
        const text = JSON.stringify(value);
        const shape = shapeOf(JSON.parse(text));
        const breaks = shape.depth > small.depthMax || shape.entriesMaxPerContainer > small.entriesPerContainerMax || shape.entriesTotal > small.entriesTotalMax;
        expect(findJsonShapeProblem(text, small) !== null).toBe(breaks);
      }),
      { numRuns: 1_000 },
    );
  });

  it('does not count brackets, commas or escaped quotes inside strings', () => {
    expect(findJsonShapeProblem('{"a":"[[[[{{{{,,,,,,,,\\"[[[["}', small)).toBeNull();
  });

  it('names the limit that is broken first', () => {
    expect(findJsonShapeProblem('[[[[1]]]]', small)).toEqual({ kind: 'too_deep', limit: 3 });
    expect(findJsonShapeProblem('[1,2,3,4,5]', small)).toEqual({ kind: 'too_many_entries_in_container', limit: 4 });
    expect(findJsonShapeProblem('[[1,2,3],[4,5,6],[7]]', small)).toEqual({ kind: 'too_many_entries', limit: 8 });
  });

  it('stops at the depth limit of a body a million levels deep', () => {
    expect(findJsonShapeProblem('['.repeat(1_000_000), ipnJsonShapeLimits)).toEqual({ kind: 'too_deep', limit: ipnJsonShapeLimits.depthMax });
  });
});

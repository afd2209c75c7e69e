// Proves the OpenAPI document covers every /api route the admin process mounts (read from the
// route files' source, so a new route without its entry fails here), and that it is a 3.1
// document whose schemas ajv's 2020-12 validator compiles.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { buildOpenApiDocument } from './openapi.ts';

const routeFolders = ['processors/admin', 'processors/settlement'];

function mountedRoutes(): string[] {
  const routes = new Set<string>();
  for (const folder of routeFolders) {
    for (const file of readdirSync(folder).filter((name) => name.endsWith('.ts') && !name.includes('.test.'))) {
      const source = readFileSync(join(folder, file), 'utf8');
      for (const match of source.matchAll(/app\.(get|put|post|delete)\(\s*'(\/api\/[^']*)'/g)) {
        routes.add(`${match[1]} ${(match[2] ?? '').replace(/:([A-Za-z]+)/g, '{$1}')}`);
      }
    }
  }
  return [...routes].sort();
}

describe('the OpenAPI document', () => {
  const document = buildOpenApiDocument() as { openapi: string; paths: Record<string, Record<string, unknown>> };

  it('lists every mounted /api route and nothing else', () => {
    const documented = Object.entries(document.paths)
      .flatMap(([path, operations]) => Object.keys(operations).map((method) => `${method} ${path}`))
      .sort();
    const mounted = mountedRoutes();
    expect(mounted.length).toBeGreaterThan(25);
    expect(documented).toEqual(mounted);
  });

  it('is OpenAPI 3.1 whose every response schema compiles under JSON Schema 2020-12', () => {
    expect(document.openapi).toBe('3.1.0');
    const ajv = new Ajv2020({ strict: false });
    ajv.addSchema(document, 'openapi');
    for (const [path, operations] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        const responses = (operation as { responses: Record<string, { content?: Record<string, unknown> }> }).responses;
        for (const [status, response] of Object.entries(responses)) {
          for (const mediaType of Object.keys(response.content ?? {})) {
            const pointer = `/paths/${path.replaceAll('~', '~0').replaceAll('/', '~1')}/${method}/responses/${status}/content/${mediaType.replaceAll('/', '~1')}/schema`;
            expect(() => ajv.compile({ $ref: `openapi#${pointer}` })).not.toThrow();
          }
        }
      }
    }
  });
});

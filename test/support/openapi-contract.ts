// The contract test's fetch: every answer an admin test sees is checked against the OpenAPI
// document the admin process serves (GET /api/openapi.json), with ajv's JSON Schema 2020-12
// validator (OpenAPI 3.1's dialect). The operation is found by method and path template, the
// response by its status (an undocumented status fails), and the body must match the response's
// schema for its content type; a response documented without content (a 204) must have no body.
// A mismatch throws, so the test that saw the answer fails.
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ValidateFunction } from 'ajv';

interface OpenApiDocument {
  paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, unknown> }> }>>;
}

export interface CheckedResponse {
  status: number;
  headers: Headers;
  /** Parsed JSON, or the text of a non-JSON answer (CSV). */
  body: unknown;
  text: string;
}

export class ContractViolation extends Error {}

const pointerPart = (part: string): string => part.replaceAll('~', '~0').replaceAll('/', '~1');

export interface ContractClient {
  fetch(path: string, init?: RequestInit): Promise<CheckedResponse>;
  readonly document: OpenApiDocument;
}

export async function openContractClient(baseUrl: string): Promise<ContractClient> {
  const answer = await fetch(`${baseUrl}/api/openapi.json`);
  if (answer.status !== 200) throw new Error(`GET /api/openapi.json answered ${answer.status}`);
  const document = (await answer.json()) as OpenApiDocument;
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  ajv.addSchema(document, 'openapi');
  const validators = new Map<string, ValidateFunction>();
  const validatorOf = (pointer: string): ValidateFunction => {
    const known = validators.get(pointer);
    if (known !== undefined) return known;
    const compiled = ajv.compile({ $ref: `openapi#${pointer}` });
    validators.set(pointer, compiled);
    return compiled;
  };
  const templates = Object.keys(document.paths).map((template) => ({
    template,
    pattern: new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[A-Za-z]+\}/g, '[^/]+')}$`),
    literal: !template.includes('{'),
  }));

  function check(method: string, path: string, status: number, contentType: string, body: unknown): void {
    const pathname = new URL(path, 'http://contract').pathname;
    if (!pathname.startsWith('/api/')) return;
    const matches = templates.filter((entry) => entry.pattern.test(pathname)).sort((a, b) => Number(b.literal) - Number(a.literal));
    const operationEntry = matches.map((entry) => ({ entry, operation: document.paths[entry.template]?.[method.toLowerCase()] })).find((found) => found.operation !== undefined);
    let pointer: string;
    if (operationEntry === undefined) {
      // An unknown route or method is answered by the shared error contract, nothing else.
      if (status < 400) throw new ContractViolation(`${method} ${pathname} answered ${status} but is not in the OpenAPI document`);
      pointer = '/components/schemas/Error';
    } else {
      const responses = operationEntry.operation?.responses ?? {};
      const documented = responses[String(status)] ?? responses[`${String(status)[0]}XX`];
      if (documented === undefined) throw new ContractViolation(`${method} ${operationEntry.entry.template}: status ${status} is not documented`);
      const mediaType = contentType.split(';')[0]?.trim() ?? '';
      // A response documented without content (a 204) must come without a body.
      if (documented.content === undefined) {
        if (body !== '') throw new ContractViolation(`${method} ${operationEntry.entry.template} ${status}: documented without a body but answered one`);
        return;
      }
      if (documented.content[mediaType] === undefined) throw new ContractViolation(`${method} ${operationEntry.entry.template} ${status}: content type ${mediaType} is not documented`);
      const statusKey = responses[String(status)] === undefined ? `${String(status)[0]}XX` : String(status);
      pointer = `/paths/${pointerPart(operationEntry.entry.template)}/${method.toLowerCase()}/responses/${statusKey}/content/${pointerPart(mediaType)}/schema`;
    }
    const validate = validatorOf(pointer);
    if (!validate(body)) {
      throw new ContractViolation(`${method} ${pathname} ${status} does not match ${pointer}: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(body).slice(0, 2_000)}`);
    }
  }

  return {
    document,
    async fetch(path: string, init: RequestInit = {}): Promise<CheckedResponse> {
      const response = await fetch(`${baseUrl}${path}`, init);
      const text = await response.text();
      const contentType = response.headers.get('content-type') ?? '';
      const body: unknown = contentType.startsWith('application/json') ? JSON.parse(text) : text;
      check(init.method ?? 'GET', path, response.status, contentType, body);
      return { status: response.status, headers: response.headers, body, text };
    },
  };
}

// The one error contract of every HTTP endpoint of the pipeline: a rejection is a 4xx whose body is
// `{"error":{"code","message","field","rule"}}`, a dependency that is down is a 503 with
// Retry-After (nothing was recorded, the caller retries), and only a bug is a 500. Each app adds
// the mapping of its own domain errors through `mapError`; everything else is shared here so the
// webhook and the admin API cannot drift apart.
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import express, { type Express, type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { parse as parseLosslessJson } from 'lossless-json';
import { isRetriable, PipelineError } from '../errors.ts';
import { classifyDatabaseError } from '../../db/errors.ts';

export interface ErrorProblem {
  field: string;
  rule: string;
}

export interface ErrorBody {
  code: string;
  message: string;
  field?: string;
  rule?: string;
  problems?: readonly ErrorProblem[];
}

export interface HttpError {
  status: number;
  body: ErrorBody;
}

/** A rejection decided by a handler: thrown, then answered as it is. */
export class HttpRejection extends Error {
  constructor(
    readonly status: number,
    readonly body: ErrorBody,
  ) {
    super(body.message);
  }
}

export function rejection(status: number, code: string, field: string, rule: string, message: string): HttpRejection {
  return new HttpRejection(status, { code, message, field, rule });
}

/** Maps an app's own error types; undefined leaves the error to the shared rules. */
export type DomainErrorMapper = (error: unknown) => HttpError | undefined;

export interface HttpErrorOptions {
  retryAfterSeconds: number;
  mapError?: DomainErrorMapper;
}

interface BodyParserError {
  status: number;
  type: string;
  message: string;
}

function isBodyParserError(error: unknown): error is BodyParserError {
  return typeof error === 'object' && error !== null && 'status' in error && 'type' in error;
}

/** An error that carries a 4xx status (http-errors, as express and body-parser raise them). */
function isClientStatusError(error: unknown): error is { status: number; code?: unknown } {
  if (typeof error !== 'object' || error === null || !('status' in error)) return false;
  const { status } = error;
  return typeof status === 'number' && status >= 400 && status < 500;
}

/** The answer to any error; sets Retry-After on the response (express's or a plain node:http one) for a 503. */
export function toHttpError(error: unknown, options: HttpErrorOptions, response: Pick<ServerResponse, 'setHeader'>): HttpError {
  if (error instanceof HttpRejection) return { status: error.status, body: error.body };
  const mapped = options.mapError?.(error);
  if (mapped !== undefined) return mapped;
  // The router decodes path parameters before any handler runs; `%ff` or a truncated `%E0%A4`
  // makes decodeURIComponent throw. That is the client's mistake on every route, never a 500, and
  // the router's own message (which quotes the raw text) is not echoed.
  if (error instanceof URIError) {
    return {
      status: 400,
      body: { code: 'malformed_uri', message: 'The request path contains malformed percent-encoding.', field: 'path', rule: 'percent-encoded UTF-8 (RFC 3986)' },
    };
  }
  if (isBodyParserError(error)) {
    if (error.type === 'entity.too.large') {
      return { status: 413, body: { code: 'body_too_large', message: error.message, field: 'body', rule: 'size limit' } };
    }
    if (error.status >= 400 && error.status < 500) {
      return { status: error.status, body: { code: error.type.replace(/\W+/g, '_'), message: error.message, field: 'body', rule: error.type } };
    }
  }
  // body-parser wraps a failed decompression (Content-Encoding: gzip over bytes that are not gzip)
  // as a 400 without a type; zlib's message is not for the caller.
  if (isClientStatusError(error)) {
    const decompression = typeof error.code === 'string' && error.code.startsWith('Z_');
    return {
      status: error.status,
      body: decompression
        ? { code: 'malformed_content_encoding', message: 'The body is not encoded as its Content-Encoding says.', field: 'content-encoding', rule: 'matches the body' }
        : { code: 'bad_request', message: 'The request could not be read.', field: 'body', rule: 'a readable request' },
    };
  }
  if (isRetriable(error) || classifyDatabaseError(error).retriable) {
    response.setHeader('Retry-After', String(options.retryAfterSeconds));
    return {
      status: 503,
      body: { code: 'unavailable', message: 'A dependency is unavailable; nothing was recorded. Retry later.' },
    };
  }
  const message = error instanceof PipelineError ? error.message : 'Internal error';
  return { status: 500, body: { code: 'internal_error', message } };
}

/**
 * Whether the request has a body typed application/json (parameters and case aside), decided by
 * express's own `req.is`, which reads only the headers: a route served on plain node:http in front
 * of express must accept exactly the content types the express route accepted.
 */
export function hasJsonContentType(request: IncomingMessage): boolean {
  return Boolean(express.request.is.call(request, 'application/json'));
}

/** 415 unless the request says application/json; run it before the body is read. */
export function requireJsonContentType(message: string): RequestHandler {
  return (request: Request, _response: Response, next: NextFunction) => {
    if (!hasJsonContentType(request)) {
      next(unsupportedMediaType(message));
      return;
    }
    next();
  };
}

export function unsupportedMediaType(message: string): HttpRejection {
  return rejection(415, 'unsupported_media_type', 'content-type', 'must be application/json', message);
}

/** express's default ETag of a body (its "weak" setting): W/"<length in hex>-<27 characters of base64 SHA-1>". */
function weakEntityTag(text: string, byteLength: number): string {
  if (byteLength === 0) return 'W/"0-2jmj7l5rSw0yVb/vlWAYkK/YBwk"';
  return `W/"${byteLength.toString(16)}-${createHash('sha1').update(text, 'utf8').digest('base64').substring(0, 27)}"`;
}

/**
 * A JSON answer on a plain node:http response with the headers express's `res.status().json()`
 * gives a POST's answer (Content-Type with charset, Content-Length, weak ETag, in that order), so a
 * route served outside express answers as it did inside it.
 */
export function sendJson(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  const byteLength = Buffer.byteLength(text, 'utf8');
  response.statusCode = status;
  response.setHeader('Content-Type', 'application/json; charset=utf-8');
  response.setHeader('Content-Length', String(byteLength));
  response.setHeader('ETag', weakEntityTag(text, byteLength));
  // Given text, Node writes the head and the body as one string in one write; a Buffer goes out as
  // a second chunk (writev), which the webhook's profile showed among its larger costs.
  response.end(text, 'utf8');
}

/**
 * Parses a raw JSON body without ever going through a JS number: numbers arrive as
 * LosslessNumber, so an amount keeps its exact text (and a handler can tell a number from a string).
 */
export function parseJsonBody(body: unknown): unknown {
  const rawText = Buffer.isBuffer(body) ? body.toString('utf8') : '';
  try {
    return parseLosslessJson(rawText);
  } catch (error) {
    throw rejection(400, 'malformed_json', 'body', 'must be valid JSON', `The body is not valid JSON: ${(error as Error).message}`);
  }
}

export interface ErrorHandlersOptions extends HttpErrorOptions {
  /** Called with every error answer the handlers give (metrics by code, logging a 5xx's cause). */
  onError?: (body: ErrorBody, status: number, error: unknown) => void;
}

/**
 * The last two middlewares of an app: errors raised before or inside a route (body-parser's size
 * limit, bad encodings, aborted uploads, thrown rejections), then a JSON 404 for any other path.
 */
export function mountErrorHandlers(app: Express, options: ErrorHandlersOptions): void {
  app.use((error: unknown, _request: Request, response: Response, next: NextFunction) => {
    if (response.headersSent) {
      next(error);
      return;
    }
    const { status, body } = errorAnswerOf(error, options, response);
    response.status(status).json({ error: body });
  });

  app.use((_request: Request, response: Response) => {
    response.status(404).json({ error: { code: 'not_found', message: 'No such endpoint.' } });
  });
}

function errorAnswerOf(error: unknown, options: ErrorHandlersOptions, response: Pick<ServerResponse, 'setHeader'>): HttpError {
  const answer = toHttpError(error, options, response);
  options.onError?.(answer.body, answer.status, error);
  return answer;
}

/**
 * What the error handlers above answer, for a route served on plain node:http in front of express
 * (the webhook's IPN route): same status, body, Retry-After and `onError`. An error after the
 * answer started cannot be answered; the connection is destroyed, as express's final handler does.
 */
export function answerError(error: unknown, options: ErrorHandlersOptions, response: ServerResponse): void {
  if (response.headersSent) {
    response.destroy();
    return;
  }
  const { status, body } = errorAnswerOf(error, options, response);
  sendJson(response, status, { error: body });
}

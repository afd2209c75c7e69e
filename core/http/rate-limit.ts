// A per-source request limit for an app's public routes (express-rate-limit, one fixed window of a
// minute, counted in this process's memory). Over the limit a request gets 429 with Retry-After
// and the usual JSON error body, through the app's error handlers. /health, /ready and /metrics
// are mounted before it and never limited: an orchestrator probing a busy process must not see it
// as dead.
//
// "Source" is the TCP peer (IPv6 grouped by /56, the library's default, so one host cannot dodge
// the limit by rotating addresses in its prefix). Behind a proxy every request comes from the
// proxy: the limit then applies to all callers together, so set it there or keep it generous.
import type { RequestHandler } from 'express';
import { rateLimit } from 'express-rate-limit';
import { rejection } from './http-errors.ts';

export interface RequestRateLimitOptions {
  requestsPerMinute: number;
}

const windowMs = 60_000;

export function createRequestRateLimit(options: RequestRateLimitOptions): RequestHandler {
  const { requestsPerMinute } = options;
  return rateLimit({
    windowMs,
    limit: requestsPerMinute,
    // RateLimit / RateLimit-Policy on every answer; Retry-After on a 429.
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    handler: (_request, _response, next) => {
      next(
        rejection(
          429,
          'rate_limited',
          'source',
          `at most ${requestsPerMinute} requests per minute`,
          `Too many requests from this source (at most ${requestsPerMinute} per minute); retry after the Retry-After seconds.`,
        ),
      );
    },
  });
}

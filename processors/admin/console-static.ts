// The operator console (console/, built by `npm run build:console` into console/dist/, which
// `npm run build` copies into dist/ beside this module's output) served at /console: hashed assets
// cached for a year, index.html never cached and answered for every other /console path (the
// console routes in the browser), a strict Content-Security-Policy (no inline script or style, same
// origin only), and /console/settings.json with what the page needs from the configuration.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import express, { type Express, type Request, type Response } from 'express';
import { rejection } from '../../core/http/http-errors.ts';

export interface ConsoleOptions {
  /** The built console; default console/dist/ next to the sources (or to dist/'s copy of them). */
  directory?: string;
  /** CONSOLE_EXPLORER_TX_URL: a transaction's explorer link, {tx} replaced by its hash. */
  explorerTxUrl: string | null;
}

export const consolePath = '/console';

const defaultDirectory = fileURLToPath(new URL('../../console/dist/', import.meta.url));

// 'self' only: the build has no inline script or style (console/vite.config.ts), EventSource and
// fetch go to the same origin, and the console may not be framed (clickjacking its actions).
export const consoleContentSecurityPolicy = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

function securityHeaders(response: Response): void {
  response.set('content-security-policy', consoleContentSecurityPolicy);
  response.set('x-content-type-options', 'nosniff');
  response.set('referrer-policy', 'same-origin');
}

export function mountConsole(app: Express, options: ConsoleOptions): void {
  const directory = options.directory ?? defaultDirectory;
  const index = `${directory}index.html`;

  // Exactly /console (routing is not strict, so a route for it would match /console/ too).
  app.use((request: Request, response: Response, next) => {
    if (request.path === consolePath && (request.method === 'GET' || request.method === 'HEAD')) response.redirect(301, `${consolePath}/`);
    else next();
  });
  app.get(`${consolePath}/settings.json`, (_request: Request, response: Response) => {
    securityHeaders(response);
    response.set('cache-control', 'no-cache').json({ explorer_tx_url: options.explorerTxUrl });
  });
  app.use(consolePath, (_request: Request, response: Response, next) => {
    securityHeaders(response);
    next();
  });
  app.use(
    `${consolePath}/assets`,
    express.static(`${directory}assets`, {
      index: false,
      fallthrough: false,
      // Vite names every asset by its content hash: a changed file is a new name.
      setHeaders: (response) => response.set('cache-control', 'public, max-age=31536000, immutable'),
    }),
  );
  app.get(`${consolePath}/{*path}`, (_request: Request, response: Response, next) => {
    if (!existsSync(index)) {
      next(rejection(503, 'console_not_built', 'console', 'npm run build:console', 'The console is not built: run npm run build:console (npm run build builds it too).'));
      return;
    }
    // The page names its hashed assets: it must be revalidated so a new build is picked up.
    response.set('cache-control', 'no-cache');
    response.sendFile(index);
  });
}

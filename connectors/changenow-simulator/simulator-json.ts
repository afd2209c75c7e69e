// JSON in and out of the simulator without a JS number ever holding an amount: request bodies are
// parsed with lossless-json (numbers stay their exact text) and Decimals are written as JSON
// numbers from their own digits, as ChangeNow writes amounts.
import type { Request, Response } from 'express';
import { isLosslessNumber, parse, stringify } from 'lossless-json';
import { isDecimal } from '../../core/money.ts';

export class SimulatorApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function parseBody(body: unknown): unknown {
  const text = Buffer.isBuffer(body) ? body.toString('utf8') : '';
  if (text.trim() === '') return {};
  try {
    return parse(text);
  } catch (error) {
    throw new SimulatorApiError(400, 'not_valid_params', `The body is not valid JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** A JSON number as parsed losslessly, or a numeric string, as its text; anything else unchanged. */
export function numberText(value: unknown): unknown {
  return isLosslessNumber(value) ? value.value : value;
}

const decimalStringifier = { test: isDecimal, stringify: (value: unknown) => (isDecimal(value) ? value.toFixed() : 'null') };

export function sendJson(response: Response, status: number, body: unknown): void {
  const text = stringify(body, null, undefined, [decimalStringifier]) ?? 'null';
  response.status(status).type('application/json').send(text);
}

/** ChangeNow's error shape: `{"error": code, "message": text}`. */
export function sendError(response: Response, error: SimulatorApiError): void {
  sendJson(response, error.status, { error: error.code, message: error.message });
}

/** A route whose action returns the 200 body, or throws a SimulatorApiError for the error answer. */
export function jsonHandler(action: (request: Request) => unknown): (request: Request, response: Response) => void {
  return (request, response) => {
    try {
      sendJson(response, 200, action(request));
    } catch (error) {
      if (error instanceof SimulatorApiError) sendError(response, error);
      else throw error;
    }
  };
}

// The one way a listener reads a NOTIFY payload. Our own writers choose the payloads, but a payload
// from an older or newer writer (or a hand-typed NOTIFY) must not throw in a listener: it reads as
// undefined, and the listener then falls back to rebuilding its state from the database.
import type { z } from 'zod';

export function parseNotificationPayload<S extends z.ZodTypeAny>(payload: string | undefined, schema: S): z.infer<S> | undefined {
  if (payload === undefined || payload === '') return undefined;
  let json: unknown;
  try {
    json = JSON.parse(payload);
  } catch {
    return undefined;
  }
  const parsed = schema.safeParse(json);
  return parsed.success ? (parsed.data as z.infer<S>) : undefined;
}

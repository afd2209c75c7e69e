// The notifier's destinations: NOTIFIER_WEBHOOK_URLS, a comma-separated list of http(s) URLs. Read
// once at start (core/config.ts validates it through this), so a typo stops the process with the
// variable named instead of failing every delivery later. Empty is allowed: the notifier then runs,
// consumes and delivers nowhere (it logs that at start).

export type WebhookUrlsParse = { readonly ok: true; readonly urls: readonly string[] } | { readonly ok: false; readonly problem: string };

/**
 * Splits, trims and checks each entry: an absolute http: or https: URL, without credentials in the
 * text (a Slack webhook's secret is its path; a user:password would be logged with the URL).
 * Duplicates are dropped, keeping the first: the same URL twice would be one delivery row anyway.
 */
export function parseWebhookUrls(text: string | undefined): WebhookUrlsParse {
  const entries = (text ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  const urls: string[] = [];
  for (const entry of entries) {
    let url: URL;
    try {
      url = new URL(entry);
    } catch {
      return { ok: false, problem: `not a URL: ${entry}` };
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return { ok: false, problem: `not an http(s) URL: ${entry}` };
    if (url.username !== '' || url.password !== '') return { ok: false, problem: `credentials in a URL are not allowed: ${url.host}` };
    if (!urls.includes(entry)) urls.push(entry);
  }
  return { ok: true, urls };
}

/** The URL as logs and dead letters may show it: scheme, host and port only (a Slack webhook's path is its secret). */
export function redactedUrl(url: string): string {
  const parsed = new URL(url);
  return `${parsed.protocol}//${parsed.host}/…`;
}

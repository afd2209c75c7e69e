// The overview: the global micro-batch against its threshold, what is in flight, today's volume,
// open alerts, consumer lag, dead letters and the host wallet — live from /api/events.
import { useEffect, useState } from 'preact/hooks';
import { get, type OkBody } from '../api/http.ts';
import { LagChart, type LagSample } from '../lag-chart.tsx';
import { Money, percentOf } from '../money.tsx';
import { base, ErrorBox, Field, Link, When } from '../ui.tsx';

type Overview = OkBody<'/api/overview'>;

const samplesKept = 300;

function lagSampleOf(overview: Overview): LagSample {
  const lag = new Map<string, number>();
  for (const entry of overview.consumer_lag ?? []) lag.set(entry.group, (lag.get(entry.group) ?? 0) + Number(entry.lag));
  return { at: Date.parse(overview.at) / 1000, lag };
}

function useLiveOverview(): { overview: Overview | undefined; samples: readonly LagSample[]; error: Error | undefined; connected: boolean } {
  const [overview, setOverview] = useState<Overview | undefined>(undefined);
  const [samples, setSamples] = useState<LagSample[]>([]);
  const [error, setError] = useState<Error | undefined>(undefined);
  const [connected, setConnected] = useState(false);
  useEffect(() => {
    const accept = (next: Overview): void => {
      setOverview(next);
      setSamples((previous) => [...previous, lagSampleOf(next)].slice(-samplesKept));
    };
    get('/api/overview', '/api/overview').then(accept, (failure: unknown) => setError(failure instanceof Error ? failure : new Error(String(failure))));
    // Same-origin EventSource sends the session cookie; the server sends an overview event at
    // connect and whenever it changes.
    const events = new EventSource('/api/events');
    events.addEventListener('open', () => setConnected(true));
    events.addEventListener('error', () => setConnected(false));
    events.addEventListener('overview', (event: MessageEvent<string>) => {
      setError(undefined);
      accept(JSON.parse(event.data) as Overview);
    });
    return () => events.close();
  }, []);
  return { overview, samples, error, connected };
}

function Countdown(props: { seconds: number | null; since: string }) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);
  if (props.seconds === null) return <span class="muted">no payment waiting</span>;
  const left = Math.max(0, props.seconds - Math.floor((now - Date.parse(props.since)) / 1000));
  return (
    <span>
      {Math.floor(left / 60)} min {left % 60} s
    </span>
  );
}

export function OverviewPage() {
  const { overview, samples, error, connected } = useLiveOverview();
  if (overview === undefined) return error === undefined ? <p aria-busy="true">Loading…</p> : <ErrorBox error={error} />;
  const batch = overview.micro_batch;
  const percent = percentOf(batch.pending_usd, batch.threshold_usd);
  return (
    <>
      <p class="muted" aria-live="polite">
        {connected ? 'Live' : 'Reconnecting…'} · as of <When at={overview.at} />
      </p>
      <ErrorBox error={error} />
      <div class="grid">
        <section class="card" aria-labelledby="micro-batch">
          <h2 id="micro-batch">Micro-batch</h2>
          <progress id="micro-batch-progress" max={100} value={percent} aria-label={`Pending ${batch.pending_usd} of ${batch.threshold_usd} USD`} />
          <dl>
            <Field label="Pending">
              <Money amount={batch.pending_usd} currency="USD" /> of <Money amount={batch.threshold_usd} currency="USD" /> ({percent}%)
            </Field>
            <Field label="Payments waiting">{batch.pending_payments}</Field>
            <Field label="Oldest pending since">
              <When at={batch.oldest_pending_at} />
            </Field>
            <Field label="Max-wait flush in">
              <Countdown seconds={batch.flush_in_seconds} since={overview.at} />
            </Field>
          </dl>
        </section>
        <section class="card" aria-labelledby="volume">
          <h2 id="volume">Volume today</h2>
          <dl>
            <Field label="Payments">
              <span id="volume-payments">{overview.volume_today.payments}</span>
            </Field>
            <Field label="USD">
              <Money amount={overview.volume_today.usd} currency="USD" />
            </Field>
          </dl>
        </section>
        <section class="card" aria-labelledby="wallet">
          <h2 id="wallet">Host wallet</h2>
          {overview.host_wallet === null ? (
            <p class="muted">Not known to the admin process.</p>
          ) : (
            <dl>
              <Field label="Address">
                <code>{overview.host_wallet.address}</code>
              </Field>
              <Field label="ETH">
                <Money amount={overview.host_wallet.eth} /> (low below <Money amount={overview.host_wallet.low_eth} />)
              </Field>
              <Field label="USDT">
                <Money amount={overview.host_wallet.usdt} /> (low below <Money amount={overview.host_wallet.low_usdt} />)
              </Field>
            </dl>
          )}
        </section>
        <section class="card" aria-labelledby="dead-letters">
          <h2 id="dead-letters">Dead letters</h2>
          <table>
            <thead>
              <tr>
                <th scope="col">Topic</th>
                <th scope="col">Not replayed</th>
              </tr>
            </thead>
            <tbody>
              {overview.dead_letters === null && (
                <tr>
                  <td colSpan={2} class="muted">
                    Kafka did not answer.
                  </td>
                </tr>
              )}
              {(overview.dead_letters ?? []).map((entry) => (
                <tr key={entry.topic}>
                  <td>{entry.topic}</td>
                  <td>{entry.not_replayed}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <Link href={`${base}/operations`}>Browse and replay</Link>
        </section>
      </div>
      <section aria-labelledby="in-flight">
        <h2 id="in-flight">In flight</h2>
        <table aria-label="Conversions in flight">
          <thead>
            <tr>
              <th scope="col">Conversion</th>
              <th scope="col">State</th>
              <th scope="col">Stage</th>
              <th scope="col">Since</th>
              <th scope="col">USD</th>
            </tr>
          </thead>
          <tbody>
            {overview.conversions_in_flight.length === 0 && (
              <tr>
                <td colSpan={5} class="muted">
                  No conversion in flight.
                </td>
              </tr>
            )}
            {overview.conversions_in_flight.map((conversion) => (
              <tr key={conversion.batch_id}>
                <td>
                  <code>{conversion.batch_id}</code>
                </td>
                <td>{conversion.state}</td>
                <td>{conversion.stage}</td>
                <td>
                  <When at={conversion.since} />
                </td>
                <td>
                  <Money amount={conversion.amount_usd} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        <table aria-label="Payouts in flight">
          <thead>
            <tr>
              <th scope="col">Payout</th>
              <th scope="col">Client</th>
              <th scope="col">State</th>
              <th scope="col">Stage</th>
              <th scope="col">Since</th>
              <th scope="col">Amount</th>
            </tr>
          </thead>
          <tbody>
            {overview.payouts_in_flight.length === 0 && (
              <tr>
                <td colSpan={6} class="muted">
                  No payout in flight.
                </td>
              </tr>
            )}
            {overview.payouts_in_flight.map((payout) => (
              <tr key={payout.batch_id}>
                <td>
                  <Link href={`${base}/payout-batches/${encodeURIComponent(payout.batch_id)}`}>{payout.batch_id}</Link>
                </td>
                <td>
                  <Link href={`${base}/clients/${encodeURIComponent(payout.client_id)}`}>{payout.client_id}</Link>
                </td>
                <td>{payout.state}</td>
                <td>{payout.stage}</td>
                <td>
                  <When at={payout.since} />
                </td>
                <td>
                  <Money amount={payout.amount} currency={payout.currency} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
      <section aria-labelledby="alerts">
        <h2 id="alerts">Open alerts</h2>
        {overview.open_alerts.length === 0 ? (
          <p class="ok">No open alert.</p>
        ) : (
          <ul>
            {overview.open_alerts.map((alert) => (
              <li key={alert.id}>
                <strong>{alert.severity}</strong> {alert.kind}: {alert.summary} (since <When at={alert.since} />)
              </li>
            ))}
          </ul>
        )}
      </section>
      <section aria-labelledby="lag">
        <h2 id="lag">Consumer lag</h2>
        <LagChart samples={samples} />
      </section>
    </>
  );
}

// A payout batch: lineage (payments → conversion → credits → payout, with the rate and fee of every
// hop), its status timeline and retry chain, transaction hashes linked to the explorer, and retry
// for a failed batch. The lineage body is not yet described field by field in the OpenAPI
// document, so it is read as plain JSON here (console/README.md names this gap).
import { useState } from 'preact/hooks';
import { call, get } from '../api/http.ts';
import { Money } from '../money.tsx';
import { ActionButton, base, ErrorBox, Field, Link, Loading, textOf, TxHash, useLoad, ViewerNote, When, type Untyped } from '../ui.tsx';

function str(object: Untyped | null | undefined, name: string): string | null {
  const value = object?.[name];
  return typeof value === 'string' ? value : null;
}

function Timeline(props: { batch: Untyped }) {
  const steps: [string, string | null][] = [
    ['created', str(props.batch, 'created_at')],
    ['next retry due', str(props.batch, 'next_retry_at')],
    ['failed', str(props.batch, 'failed_at')],
    ['retries exhausted', str(props.batch, 'retries_exhausted_at')],
    ['completed', str(props.batch, 'completed_at')],
  ];
  return (
    <ol class="timeline" aria-label="Status timeline">
      {steps
        .filter(([, at]) => at !== null)
        .sort(([, a], [, b]) => (a ?? '').localeCompare(b ?? ''))
        .map(([label, at]) => (
          <li key={label}>
            {label} <When at={at} />
          </li>
        ))}
    </ol>
  );
}

export function PayoutBatchPage(props: { batchId: string }) {
  const id = encodeURIComponent(props.batchId);
  const loaded = useLoad(() => get('/api/payout-batches/{batchId}', `/api/payout-batches/${id}`), id);
  const [retry, setRetry] = useState<{ error?: Error; message?: string }>({});

  const requestRetry = async (): Promise<void> => {
    try {
      const answer = await call<Untyped>('POST', `/api/payout-batches/${id}/retry`);
      setRetry({ message: `Retry ${textOf(answer['outcome']).replace('_', ' ')}: settlement schedules it.` });
      loaded.reload();
    } catch (error) {
      setRetry({ error: error instanceof Error ? error : new Error(String(error)) });
    }
  };

  return (
    <Loading loaded={loaded}>
      {(body) => {
        const lineage = body as Untyped;
        const batch = lineage['payout_batch'] as Untyped;
        const chain = lineage['retry_chain'] as Untyped[];
        const credits = lineage['credits'] as Untyped[];
        const instant = lineage['instant_payments'] as Untyped[];
        const state = str(batch, 'state');
        return (
          <>
            <ViewerNote />
            <div class="grid">
              <section class="card" aria-labelledby="batch">
                <h2 id="batch">
                  <code>{str(batch, 'batch_id')}</code>
                </h2>
                <dl>
                  <Field label="State">
                    <strong id="batch-state">{state}</strong>
                    {str(batch, 'failure_reason') === null ? '' : ` — ${str(batch, 'failure_reason') ?? ''}`}
                  </Field>
                  <Field label="Client">
                    <Link href={`${base}/clients/${encodeURIComponent(str(batch, 'client_id') ?? '')}`}>{str(batch, 'client_id')}</Link>
                  </Field>
                  <Field label="Reason">{str(batch, 'reason')}</Field>
                  <Field label="Sent">
                    <Money amount={str(batch, 'source_amount')} currency={str(batch, 'source_currency') ?? ''} /> (worth <Money amount={str(batch, 'usd_value')} currency="USD" />)
                  </Field>
                  <Field label="Paid out">
                    <Money amount={str(batch, 'payout_amount')} currency={str(batch, 'payout_currency') ?? ''} /> on {str(batch, 'payout_network')} to <code>{str(batch, 'wallet_address')}</code>
                  </Field>
                  <Field label="Rate (payout per source unit)">
                    <Money amount={str(batch, 'payout_per_source_unit')} />
                  </Field>
                  <Field label="Pay-in transaction">
                    <TxHash hash={str(batch, 'payin_hash')} />
                  </Field>
                  <Field label="Payout transaction">
                    <span id="payout-tx">
                      <TxHash hash={str(batch, 'payout_hash')} />
                    </span>
                  </Field>
                  <Field label="Exchange">
                    {textOf(batch['exchange_id'])} ({textOf(batch['exchange_status'])})
                  </Field>
                  <Field label="Attempts">{textOf(batch['attempts'])}</Field>
                  <Field label="Requested by">{textOf(batch['requested_by'])}</Field>
                </dl>
                {state === 'failed' && (
                  <p>
                    <ActionButton name="retry" onClick={requestRetry}>
                      Retry this payout
                    </ActionButton>
                  </p>
                )}
                {retry.message !== undefined && (
                  <p role="status" class="ok">
                    {retry.message}
                  </p>
                )}
                <ErrorBox error={retry.error} />
              </section>
              <section class="card" aria-labelledby="timeline">
                <h2 id="timeline">Timeline</h2>
                <Timeline batch={batch} />
                <h3>Retry chain</h3>
                <ol aria-label="Retry chain">
                  {chain.map((link) => (
                    <li key={str(link, 'batch_id')}>
                      <Link href={`${base}/payout-batches/${encodeURIComponent(str(link, 'batch_id') ?? '')}`}>{str(link, 'batch_id')}</Link> {str(link, 'state')} (attempts {textOf(link['attempts'])}
                      {str(link, 'failure_reason') === null ? '' : `, ${str(link, 'failure_reason') ?? ''}`}) <When at={str(link, 'created_at')} />
                    </li>
                  ))}
                </ol>
              </section>
            </div>
            <section aria-labelledby="lineage">
              <h2 id="lineage">Lineage</h2>
              <p class="muted">Payment (USD → ETH, platform fee) → conversion (ETH → USDT) → credit (share of the conversion) → this payout.</p>
              <table aria-label="Lineage">
                <thead>
                  <tr>
                    <th scope="col">Payment</th>
                    <th scope="col">USD gross</th>
                    <th scope="col">USD per ETH</th>
                    <th scope="col">Platform fee</th>
                    <th scope="col">ETH net</th>
                    <th scope="col">Conversion</th>
                    <th scope="col">USDT per ETH</th>
                    <th scope="col">Conversion transactions</th>
                    <th scope="col">Credited USDT</th>
                  </tr>
                </thead>
                <tbody>
                  {credits.map((credit) => {
                    const payment = credit['payment'] as Untyped;
                    const conversion = credit['conversion'] as Untyped;
                    return (
                      <tr key={str(credit, 'credit_id')}>
                        <td>
                          <code>{str(payment, 'payment_id')}</code>
                        </td>
                        <td>
                          <Money amount={str(payment, 'usd_gross')} />
                        </td>
                        <td>
                          <Money amount={str(payment, 'usd_per_eth')} />
                        </td>
                        <td>
                          <Money amount={str(payment, 'platform_fee_usd')} currency="USD" /> ({str(payment, 'platform_fee_percent')}%)
                        </td>
                        <td>
                          <Money amount={str(payment, 'eth_net')} />
                        </td>
                        <td>
                          <code>{str(conversion, 'batch_id')}</code> {str(conversion, 'state')}
                        </td>
                        <td>
                          <Money amount={str(conversion, 'usdt_per_eth')} />
                        </td>
                        <td>
                          in <TxHash hash={str(conversion, 'payin_hash')} /> out <TxHash hash={str(conversion, 'payout_hash')} />
                        </td>
                        <td>
                          <Money amount={str(credit, 'usdt_amount')} />
                        </td>
                      </tr>
                    );
                  })}
                  {instant.map((payment) => (
                    <tr key={str(payment, 'payment_id')}>
                      <td>
                        <code>{str(payment, 'payment_id')}</code>
                      </td>
                      <td>
                        <Money amount={str(payment, 'usd_gross')} />
                      </td>
                      <td>
                        <Money amount={str(payment, 'usd_per_eth')} />
                      </td>
                      <td>
                        <Money amount={str(payment, 'platform_fee_usd')} currency="USD" /> ({str(payment, 'platform_fee_percent')}%)
                      </td>
                      <td>
                        <Money amount={str(payment, 'eth_net')} />
                      </td>
                      <td colSpan={4} class="muted">
                        instant: paid in ETH, never converted
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </section>
          </>
        );
      }}
    </Loading>
  );
}

// One client: its config (with a pending wallet change and its cooldown) and history, unpaid groups with their
// reasons, its payouts, "pay now" and a statement download.
// The config and balance bodies are not yet described field by field in the OpenAPI document, so
// they are read as plain JSON objects here (console/README.md names this gap).
import { useState } from 'preact/hooks';
import { call, get } from '../api/http.ts';
import { Money } from '../money.tsx';
import { ActionButton, ErrorBox, Field, Loading, textOf, TextInput, useLoad, ViewerNote, When, type Untyped } from '../ui.tsx';
import { PayoutBatchTable } from './payout-batches.tsx';

function str(object: Untyped, name: string): string | null {
  const value = object[name];
  return typeof value === 'string' ? value : null;
}

function dayOffset(days: number): string {
  return new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10);
}

export function ClientPage(props: { clientId: string }) {
  const id = encodeURIComponent(props.clientId);
  const config = useLoad(() => get('/api/clients/{clientId}', `/api/clients/${id}`), `config ${id}`);
  const balance = useLoad(() => get('/api/clients/{clientId}/balance', `/api/clients/${id}/balance`), `balance ${id}`);
  const history = useLoad(() => get('/api/clients/{clientId}/history', `/api/clients/${id}/history`), `history ${id}`);
  const [payNow, setPayNow] = useState<{ error?: Error; message?: string }>({});
  const [from, setFrom] = useState(dayOffset(-30));
  const [to, setTo] = useState(dayOffset(1));

  const requestPayout = async (): Promise<void> => {
    try {
      const answer = await call<Untyped>('POST', `/api/clients/${id}/payouts`);
      setPayNow({ message: `Payout ${textOf(answer['outcome'])}: ${textOf(answer['free_unpaid_usdt'])} USDT in ${textOf(answer['free_credits'])} credits.` });
      balance.reload();
    } catch (error) {
      setPayNow({ error: error instanceof Error ? error : new Error(String(error)) });
    }
  };

  return (
    <>
      <ViewerNote />
      <section class="card" aria-labelledby="config">
        <h2 id="config">Config</h2>
        <Loading loaded={config}>
          {(body) => {
            const client = (body as Untyped)['client'] as Untyped;
            const pending = str(client, 'pending_wallet_address');
            return (
              <dl>
                <Field label="Strategy">{str(client, 'strategy')}</Field>
                <Field label="Threshold USD">
                  <Money amount={str(client, 'threshold_usd')} />
                </Field>
                <Field label="Wallet">
                  <code>{str(client, 'wallet_address')}</code> ({str(client, 'payout_currency')} on {str(client, 'payout_network')})
                </Field>
                <Field label="Pending wallet change">
                  {pending === null ? (
                    <span class="muted">none</span>
                  ) : (
                    <>
                      <code>{pending}</code>, takes effect after its cooldown at <When at={str(client, 'pending_wallet_effective_at')} />
                    </>
                  )}
                </Field>
                <Field label="Revision">{textOf(client['revision'])}</Field>
                <Field label="Registered">
                  <When at={str(client, 'created_at')} />
                </Field>
                <Field label="Last changed">
                  <When at={str(client, 'updated_at')} />
                </Field>
              </dl>
            );
          }}
        </Loading>
      </section>
      <section aria-labelledby="unpaid">
        <h2 id="unpaid">Unpaid</h2>
        <Loading loaded={balance}>
          {(body) => {
            const totals = (body as Untyped)['totals'] as Untyped;
            const groups = (body as Untyped)['groups'] as Untyped[];
            return (
              <>
                <p>
                  Credited <Money amount={str(totals, 'credited_usdt')} currency="USDT" />, paid out <Money amount={str(totals, 'paid_out_usdt')} currency="USDT" />, unpaid{' '}
                  <strong id="unpaid-usdt">
                    <Money amount={str(totals, 'unpaid_usdt')} currency="USDT" />
                  </strong>
                </p>
                <table aria-label="Unpaid groups">
                  <thead>
                    <tr>
                      <th scope="col">State</th>
                      <th scope="col">Why not paid</th>
                      <th scope="col">Amount</th>
                      <th scope="col">Credits</th>
                      <th scope="col">Missing to threshold</th>
                      <th scope="col">Due by max age</th>
                      <th scope="col">Payout batch</th>
                    </tr>
                  </thead>
                  <tbody>
                    {groups.length === 0 && (
                      <tr>
                        <td colSpan={7} class="muted">
                          Nothing unpaid.
                        </td>
                      </tr>
                    )}
                    {groups.map((group, index) => (
                      <tr key={index}>
                        <td>{str(group, 'state')}</td>
                        <td>{str(group, 'reason')}</td>
                        <td>
                          <Money amount={str(group, 'amount')} currency={str(group, 'currency') ?? ''} />
                        </td>
                        <td>{textOf(group['credits'])}</td>
                        <td>
                          <Money amount={str(group, 'amount_missing_usdt')} />
                        </td>
                        <td>
                          <When at={str(group, 'max_age_due_at')} />
                        </td>
                        <td>{textOf(group['payout_batch_id'])}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </>
            );
          }}
        </Loading>
        <p>
          <ActionButton name="pay-now" onClick={requestPayout}>
            Pay now
          </ActionButton>
        </p>
        {payNow.message !== undefined && (
          <p role="status" class="ok">
            {payNow.message}
          </p>
        )}
        <ErrorBox error={payNow.error} />
      </section>
      <section aria-labelledby="history">
        <h2 id="history">Config history</h2>
        <Loading loaded={history}>
          {(body) => {
            const changes = ((body as Untyped)['history'] ?? []) as Untyped[];
            return (
              <table aria-label="Config history">
                <thead>
                  <tr>
                    <th scope="col">Revision</th>
                    <th scope="col">When</th>
                    <th scope="col">By</th>
                    <th scope="col">Note</th>
                    <th scope="col">Config</th>
                  </tr>
                </thead>
                <tbody>
                  {changes.map((change) => (
                    <tr key={textOf(change['revision'])}>
                      <td>{textOf(change['revision'])}</td>
                      <td>
                        <When at={str(change, 'changed_at')} />
                      </td>
                      <td>{textOf(change['changed_by'])}</td>
                      <td>{textOf(change['actor_note'])}</td>
                      <td>
                        <pre>{JSON.stringify(change['config'])}</pre>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            );
          }}
        </Loading>
      </section>
      <section aria-labelledby="statement">
        <h2 id="statement">Statement</h2>
        <form class="filters" onSubmit={(event) => event.preventDefault()} aria-label="Statement period">
          <TextInput label="Paid from" name="statement-from" type="date" value={from} onInput={setFrom} />
          <TextInput label="Paid before" name="statement-to" type="date" value={to} onInput={setTo} />
          <a href={`/api/clients/${id}/statement?from=${from}&to=${to}&format=csv`} download>
            Download CSV
          </a>
        </form>
      </section>
      <section aria-labelledby="payouts">
        <h2 id="payouts">Payouts</h2>
        <PayoutBatchTable clientId={props.clientId} />
      </section>
    </>
  );
}

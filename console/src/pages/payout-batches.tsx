// Payout batches, newest first, filtered by state, client and creation date.
import { useState } from 'preact/hooks';
import { get, query } from '../api/http.ts';
import { Money } from '../money.tsx';
import { base, Link, Loading, Pager, Select, TextInput, TxHash, useLoad, usePager, When } from '../ui.tsx';

export function PayoutBatchTable(props: { clientId?: string }) {
  const [state, setState] = useState('');
  const [clientId, setClientId] = useState('');
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const pager = usePager();
  const path = `/api/payout-batches${query({ state, client_id: props.clientId ?? clientId, from, to, cursor: pager.cursor, limit: '25' })}`;
  const loaded = useLoad(() => get('/api/payout-batches', path), path);
  const filter = (set: (value: string) => void) => (value: string) => {
    set(value);
    pager.reset();
  };
  return (
    <>
      <form class="filters" onSubmit={(event) => event.preventDefault()} aria-label="Payout batch filters">
        <Select label="State" name="state" value={state} options={['', 'requested', 'swapping', 'finished', 'failed']} onChange={filter(setState)} />
        {props.clientId === undefined && <TextInput label="Client id" name="client_id" value={clientId} onInput={filter(setClientId)} />}
        <TextInput label="Created from" name="from" type="date" value={from} onInput={filter(setFrom)} />
        <TextInput label="Created before" name="to" type="date" value={to} onInput={filter(setTo)} />
      </form>
      <Loading loaded={loaded}>
        {(page) => (
          <>
            <table aria-label="Payout batches">
              <thead>
                <tr>
                  <th scope="col">Batch</th>
                  <th scope="col">Client</th>
                  <th scope="col">State</th>
                  <th scope="col">Reason</th>
                  <th scope="col">Sent</th>
                  <th scope="col">Paid out</th>
                  <th scope="col">Transaction</th>
                  <th scope="col">Attempts</th>
                  <th scope="col">Created</th>
                </tr>
              </thead>
              <tbody>
                {page.items.length === 0 && (
                  <tr>
                    <td colSpan={9} class="muted">
                      No payout batch matches.
                    </td>
                  </tr>
                )}
                {page.items.map((batch) => (
                  <tr key={batch.batch_id}>
                    <td>
                      <Link href={`${base}/payout-batches/${encodeURIComponent(batch.batch_id)}`}>{batch.batch_id}</Link>
                    </td>
                    <td>
                      <Link href={`${base}/clients/${encodeURIComponent(batch.client_id)}`}>{batch.client_id}</Link>
                    </td>
                    <td class={`state-${batch.state}`}>{batch.state}</td>
                    <td>{batch.failure_reason ?? batch.reason}</td>
                    <td>
                      <Money amount={batch.source_amount} currency={batch.source_currency} />
                    </td>
                    <td>
                      <Money amount={batch.payout_amount} currency={batch.payout_currency} />
                    </td>
                    <td>
                      <TxHash hash={batch.payout_hash} />
                    </td>
                    <td>{batch.attempts}</td>
                    <td>
                      <When at={batch.created_at} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
            <Pager nextCursor={page.next_cursor} pager={pager} />
          </>
        )}
      </Loading>
    </>
  );
}

export function PayoutBatchesPage() {
  return <PayoutBatchTable />;
}

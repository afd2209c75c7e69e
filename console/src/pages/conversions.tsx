// Conversion batches (the global ETH → USDT micro-batches), newest first, filtered by state and date.
import { useState } from 'preact/hooks';
import { get, query } from '../api/http.ts';
import { Money } from '../money.tsx';
import { Loading, Pager, Select, TextInput, useLoad, usePager, When } from '../ui.tsx';

export function ConversionsPage() {
  const [state, setState] = useState('');
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const pager = usePager();
  const path = `/api/conversion-batches${query({ state, from, to, cursor: pager.cursor, limit: '25' })}`;
  const loaded = useLoad(() => get('/api/conversion-batches', path), path);
  const filter = (set: (value: string) => void) => (value: string) => {
    set(value);
    pager.reset();
  };
  return (
    <>
      <form class="filters" onSubmit={(event) => event.preventDefault()} aria-label="Conversion filters">
        <Select label="State" name="state" value={state} options={['', 'requested', 'swapping', 'finished', 'failed', 'needs_recovery', 'written_off']} onChange={filter(setState)} />
        <TextInput label="Created from" name="from" type="date" value={from} onInput={filter(setFrom)} />
        <TextInput label="Created before" name="to" type="date" value={to} onInput={filter(setTo)} />
      </form>
      <Loading loaded={loaded}>
        {(page) => (
          <>
            <table aria-label="Conversions">
              <thead>
                <tr>
                  <th scope="col">Conversion</th>
                  <th scope="col">State</th>
                  <th scope="col">Trigger</th>
                  <th scope="col">Payments</th>
                  <th scope="col">USD</th>
                  <th scope="col">ETH</th>
                  <th scope="col">USDT received</th>
                  <th scope="col">Exchange</th>
                  <th scope="col">Created</th>
                  <th scope="col">Finished or failed</th>
                </tr>
              </thead>
              <tbody>
                {page.items.length === 0 && (
                  <tr>
                    <td colSpan={10} class="muted">
                      No conversion matches.
                    </td>
                  </tr>
                )}
                {page.items.map((batch) => (
                  <tr key={batch.batch_id}>
                    <td>
                      <code>{batch.batch_id}</code>
                    </td>
                    <td>{batch.state}</td>
                    <td>{batch.trigger}</td>
                    <td>{batch.member_count}</td>
                    <td>
                      <Money amount={batch.total_usd} />
                    </td>
                    <td>
                      <Money amount={batch.total_eth} />
                    </td>
                    <td>
                      <Money amount={batch.usdt_received} />
                    </td>
                    <td>
                      {batch.exchange_status ?? '—'}
                      {batch.failure_reason === null ? '' : ` (${batch.failure_reason})`}
                    </td>
                    <td>
                      <When at={batch.created_at} />
                    </td>
                    <td>
                      <When at={batch.finished_at ?? batch.failed_at} />
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

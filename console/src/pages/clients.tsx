// Clients: search by id prefix, filter by strategy, page through; each row links to its client page.
import { useState } from 'preact/hooks';
import { get, query } from '../api/http.ts';
import { Money } from '../money.tsx';
import { base, Link, Loading, Pager, Select, TextInput, useLoad, usePager, When } from '../ui.tsx';

export function ClientsPage() {
  const [search, setSearch] = useState('');
  const [strategy, setStrategy] = useState('');
  const pager = usePager();
  const path = `/api/clients${query({ q: search, strategy, cursor: pager.cursor, limit: '25' })}`;
  const loaded = useLoad(() => get('/api/clients', path), path);
  return (
    <>
      <form class="filters" role="search" onSubmit={(event) => event.preventDefault()}>
        <TextInput
          label="Client id starts with"
          name="q"
          value={search}
          placeholder="-100"
          onInput={(value) => {
            setSearch(value);
            pager.reset();
          }}
        />
        <Select
          label="Strategy"
          name="strategy"
          value={strategy}
          options={['', 'instant', 'threshold']}
          onChange={(value) => {
            setStrategy(value);
            pager.reset();
          }}
        />
      </form>
      <Loading loaded={loaded}>
        {(page) => (
          <>
            <table>
              <thead>
                <tr>
                  <th scope="col">Client</th>
                  <th scope="col">Strategy</th>
                  <th scope="col">Threshold USD</th>
                  <th scope="col">Unpaid USDT</th>
                  <th scope="col">Unconverted USD</th>
                  <th scope="col">State</th>
                  <th scope="col">Reason</th>
                  <th scope="col">Last payout</th>
                </tr>
              </thead>
              <tbody>
                {page.items.length === 0 && (
                  <tr>
                    <td colSpan={8} class="muted">
                      No client matches.
                    </td>
                  </tr>
                )}
                {page.items.map((client) => (
                  <tr key={client.client_id}>
                    <td>
                      <Link href={`${base}/clients/${encodeURIComponent(client.client_id)}`}>{client.client_id}</Link>
                    </td>
                    <td>{client.strategy}</td>
                    <td>
                      <Money amount={client.threshold_usd} />
                    </td>
                    <td>
                      <Money amount={client.unpaid_usdt} />
                    </td>
                    <td>
                      <Money amount={client.unconverted_usd} />
                    </td>
                    <td>{client.state}</td>
                    <td>{client.reason}</td>
                    <td>
                      {client.last_payout === null ? (
                        <span class="muted">none</span>
                      ) : (
                        <>
                          <Link href={`${base}/payout-batches/${encodeURIComponent(client.last_payout.batch_id)}`}>{client.last_payout.state}</Link> <When at={client.last_payout.created_at} />
                        </>
                      )}
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

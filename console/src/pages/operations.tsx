// Operations: the dead-letter browser with replay, quarantined IPNs, consumer groups with lag and
// an offset reset behind a dry run, the runtime micro-batch threshold with its audit log, and
// reconciliation. Actions are hidden for viewers (and refused by the server anyway).
import { useEffect, useState } from 'preact/hooks';
import { call, get, query, type OkBody } from '../api/http.ts';
import { Money } from '../money.tsx';
import { ActionButton, ErrorBox, Field, Loading, Select, textOf, TextInput, useLoad, ViewerNote, When, type Untyped } from '../ui.tsx';

type DeadLetterRecords = OkBody<'/api/dead-letters/{topic}/records'>;
type DeadLetterRecord = DeadLetterRecords extends { items: (infer Item)[] } ? Item : never;
type Replay = OkBody<'/api/replays/{id}'>;
type ResetPlan = OkBody<'/api/consumer-groups/{group}/offset-reset', 'post'>;

function errorOf(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

function recordKey(record: DeadLetterRecord): string {
  return `${record.partition}:${record.offset}`;
}

function DeadLetterRecordsTable(props: { topic: string }) {
  const topic = encodeURIComponent(props.topic);
  const records = useLoad(() => get('/api/dead-letters/{topic}/records', `/api/dead-letters/${topic}/records?limit=100`), `records ${topic}`);
  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set());
  const [replay, setReplay] = useState<Replay | undefined>(undefined);
  const [error, setError] = useState<Error | undefined>(undefined);

  useEffect(() => {
    if (replay === undefined) return undefined;
    // Done (or failed): the records show what was replayed now.
    if (replay.state !== 'running') {
      records.reload();
      return undefined;
    }
    const timer = setTimeout(() => {
      get('/api/replays/{id}', `/api/replays/${encodeURIComponent(replay.replay_id)}`).then(setReplay, (failure: unknown) => setError(errorOf(failure)));
    }, 500);
    return () => clearTimeout(timer);
  }, [replay]);

  const start = async (body: unknown): Promise<void> => {
    setError(undefined);
    try {
      const accepted = await call<{ replay_id: string }>('POST', `/api/dead-letters/${topic}/replay`, body);
      setReplay(await get('/api/replays/{id}', `/api/replays/${encodeURIComponent(accepted.replay_id)}`));
      setSelected(new Set());
    } catch (failure) {
      setError(errorOf(failure));
    }
  };

  return (
    <Loading loaded={records}>
      {(page) => (
        <>
          <p>
            <ActionButton
              name="replay-selected"
              disabled={selected.size === 0}
              onClick={() =>
                start({
                  records: page.items.filter((record) => selected.has(recordKey(record))).map((record) => ({ partition: record.partition, offset: record.offset })),
                })
              }
            >
              Replay selected ({selected.size})
            </ActionButton>{' '}
            <ActionButton name="replay-all" onClick={() => start({ all: true })}>
              Replay all
            </ActionButton>
          </p>
          {replay !== undefined && (
            <div role="status">
              <label>
                Replay {replay.state}: {replay.replayed} of {replay.total}
                <progress id="replay-progress" max={Math.max(replay.total, 1)} value={replay.replayed} />
              </label>
              {replay.error === null ? null : <p class="error">{replay.error}</p>}
            </div>
          )}
          <ErrorBox error={error} />
          <table aria-label={`Records of ${props.topic}`}>
            <thead>
              <tr>
                <th scope="col">Select</th>
                <th scope="col">Partition / offset</th>
                <th scope="col">When</th>
                <th scope="col">Key</th>
                <th scope="col">Reason headers</th>
                <th scope="col">Record</th>
                <th scope="col">Replayed</th>
              </tr>
            </thead>
            <tbody>
              {page.items.length === 0 && (
                <tr>
                  <td colSpan={7} class="muted">
                    No record on this topic.
                  </td>
                </tr>
              )}
              {page.items.map((record) => {
                const key = recordKey(record);
                return (
                  <tr key={key}>
                    <td>
                      <input
                        type="checkbox"
                        aria-label={`Select ${key}`}
                        checked={selected.has(key)}
                        disabled={record.replayed}
                        onChange={(event) => {
                          const next = new Set(selected);
                          if (event.currentTarget.checked) next.add(key);
                          else next.delete(key);
                          setSelected(next);
                        }}
                      />
                    </td>
                    <td>{key}</td>
                    <td>
                      <When at={record.timestamp} />
                    </td>
                    <td>{record.key ?? '—'}</td>
                    <td>
                      <pre>{Object.entries(record.headers).map(([name, value]) => `${name}: ${value}`).join('\n')}</pre>
                    </td>
                    <td>
                      <pre>{record.value === null ? (record.decode_error ?? record.raw_base64 ?? '—') : JSON.stringify(record.value, null, 1)}</pre>
                    </td>
                    <td>{record.replayed ? 'yes' : 'no'}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </>
      )}
    </Loading>
  );
}

function DeadLetters() {
  const topics = useLoad(() => get('/api/dead-letters', '/api/dead-letters?limit=200'), 'dead letters');
  const [topic, setTopic] = useState('');
  return (
    <section aria-labelledby="dead-letter-browser">
      <h2 id="dead-letter-browser">Dead letters</h2>
      <Loading loaded={topics}>
        {(page) => (
          <>
            <table aria-label="Dead-letter topics">
              <thead>
                <tr>
                  <th scope="col">Topic</th>
                  <th scope="col">From</th>
                  <th scope="col">Records</th>
                  <th scope="col">Not replayed</th>
                </tr>
              </thead>
              <tbody>
                {page.items.map((item) => (
                  <tr key={item.topic}>
                    <td>{item.topic}</td>
                    <td>{item.source_topic}</td>
                    <td>{item.records}</td>
                    <td>{item.not_replayed}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            <Select label="Browse topic" name="dead-letter-topic" value={topic} options={['', ...page.items.map((item) => item.topic)]} onChange={setTopic} />
          </>
        )}
      </Loading>
      {topic !== '' && <DeadLetterRecordsTable key={topic} topic={topic} />}
    </section>
  );
}

function Quarantine() {
  const loaded = useLoad(() => get('/api/quarantine', '/api/quarantine'), 'quarantine');
  return (
    <section aria-labelledby="quarantine">
      <h2 id="quarantine">Quarantined IPNs</h2>
      <Loading loaded={loaded}>
        {(body) => {
          const rows = ((body as Untyped)['quarantined'] ?? []) as Untyped[];
          return rows.length === 0 ? (
            <p class="ok">No IPN in quarantine.</p>
          ) : (
            <table aria-label="Quarantined IPNs">
              <thead>
                <tr>
                  <th scope="col">Id</th>
                  <th scope="col">Payment</th>
                  <th scope="col">State</th>
                  <th scope="col">Reason</th>
                  <th scope="col">Received</th>
                  <th scope="col">Last seen</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((row) => (
                  <tr key={textOf(row['id'])}>
                    <td>{textOf(row['id'])}</td>
                    <td>{textOf(row['payment_id'])}</td>
                    <td>{textOf(row['state'])}</td>
                    <td>{textOf(row['reason'])}</td>
                    <td>{textOf(row['times_received'])}</td>
                    <td>{textOf(row['last_seen_at'])}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          );
        }}
      </Loading>
    </section>
  );
}

function OffsetReset(props: { groups: readonly { group_id: string; partitions: readonly { topic: string }[] }[] }) {
  const [group, setGroup] = useState('');
  const [topic, setTopic] = useState('');
  const [to, setTo] = useState('earliest');
  const [plan, setPlan] = useState<ResetPlan | undefined>(undefined);
  const [applied, setApplied] = useState<ResetPlan | undefined>(undefined);
  const [error, setError] = useState<Error | undefined>(undefined);
  const topics = [...new Set(props.groups.find((candidate) => candidate.group_id === group)?.partitions.map((partition) => partition.topic) ?? [])];
  const path = `/api/consumer-groups/${encodeURIComponent(group)}/offset-reset`;
  const preview = async (): Promise<void> => {
    setError(undefined);
    setApplied(undefined);
    try {
      setPlan(await call<ResetPlan>('POST', path, { topic, to, dry_run: true }));
    } catch (failure) {
      setPlan(undefined);
      setError(errorOf(failure));
    }
  };
  const confirm = async (): Promise<void> => {
    if (plan === undefined) return;
    setError(undefined);
    try {
      setApplied(await call<ResetPlan>('POST', path, { topic, to, dry_run: false, confirm_token: plan.confirm_token }));
      setPlan(undefined);
    } catch (failure) {
      setError(errorOf(failure));
    }
  };
  const shown = applied ?? plan;
  return (
    <div class="card">
      <h3>Reset a group's offsets</h3>
      <form class="filters" onSubmit={(event) => event.preventDefault()} aria-label="Offset reset">
        <Select label="Group" name="reset-group" value={group} options={['', ...props.groups.map((candidate) => candidate.group_id)]} onChange={(value) => { setGroup(value); setTopic(''); setPlan(undefined); }} />
        <Select label="Topic" name="reset-topic" value={topic} options={['', ...topics]} onChange={(value) => { setTopic(value); setPlan(undefined); }} />
        <Select label="To" name="reset-to" value={to} options={['earliest', 'latest']} onChange={(value) => { setTo(value); setPlan(undefined); }} />
        <ActionButton name="reset-preview" disabled={group === '' || topic === ''} onClick={preview}>
          Preview (dry run)
        </ActionButton>
        <ActionButton name="reset-confirm" disabled={plan === undefined} onClick={confirm}>
          Confirm reset
        </ActionButton>
      </form>
      <ErrorBox error={error} />
      {shown !== undefined && (
        <div role="status">
          <p>{applied === undefined ? 'Dry run: nothing changed yet. Confirm to apply this plan.' : 'Applied.'}</p>
          <table aria-label={applied === undefined ? 'Offset reset plan' : 'Offset reset applied'}>
            <thead>
              <tr>
                <th scope="col">Partition</th>
                <th scope="col">Current</th>
                <th scope="col">Target</th>
                <th scope="col">Change</th>
              </tr>
            </thead>
            <tbody>
              {shown.partitions.map((partition) => (
                <tr key={partition.partition}>
                  <td>{partition.partition}</td>
                  <td>{partition.current}</td>
                  <td>{partition.target}</td>
                  <td>{partition.delta}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}

function ConsumerGroups() {
  const loaded = useLoad(() => get('/api/consumer-groups', '/api/consumer-groups?limit=200'), 'groups');
  return (
    <section aria-labelledby="consumer-groups">
      <h2 id="consumer-groups">Consumer groups</h2>
      <Loading loaded={loaded}>
        {(page) => (
          <>
            <table aria-label="Consumer groups">
              <thead>
                <tr>
                  <th scope="col">Group</th>
                  <th scope="col">State</th>
                  <th scope="col">Members</th>
                  <th scope="col">Lag</th>
                  <th scope="col">Per partition (committed / end)</th>
                </tr>
              </thead>
              <tbody>
                {page.items.map((group) => (
                  <tr key={group.group_id}>
                    <td>{group.group_id}</td>
                    <td>{group.state}</td>
                    <td>{group.members}</td>
                    <td>{group.total_lag}</td>
                    <td>
                      <pre>{group.partitions.map((partition) => `${partition.topic}[${partition.partition}] ${partition.committed_offset} / ${partition.end_offset} (lag ${partition.lag})`).join('\n')}</pre>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
            <OffsetReset groups={page.items} />
          </>
        )}
      </Loading>
    </section>
  );
}

function Threshold() {
  const threshold = useLoad(() => get('/api/config/micro-batch-threshold', '/api/config/micro-batch-threshold'), 'threshold');
  const audit = useLoad(() => get('/api/config/audit', `/api/config/audit${query({ setting: 'micro_batch_threshold_usd', limit: '20' })}`), 'audit');
  const [value, setValue] = useState('');
  const [error, setError] = useState<Error | undefined>(undefined);
  const save = async (): Promise<void> => {
    setError(undefined);
    try {
      await call('PUT', '/api/config/micro-batch-threshold', { value });
      threshold.reload();
      audit.reload();
    } catch (failure) {
      setError(errorOf(failure));
    }
  };
  return (
    <section aria-labelledby="threshold">
      <h2 id="threshold">Micro-batch threshold</h2>
      <Loading loaded={threshold}>
        {(body) => {
          const state = body as Untyped;
          return (
            <dl>
              <Field label="In force">
                <Money amount={typeof state['value'] === 'string' ? state['value'] : null} currency="USD" /> ({textOf(state['source'])}; default {textOf(state['default_value'])})
              </Field>
            </dl>
          );
        }}
      </Loading>
      <form class="filters" onSubmit={(event) => event.preventDefault()} aria-label="Change the threshold">
        <TextInput label="New threshold USD" name="threshold" value={value} onInput={setValue} />
        <ActionButton name="threshold-save" disabled={value === ''} onClick={save}>
          Change
        </ActionButton>
      </form>
      <ErrorBox error={error} />
      <Loading loaded={audit}>
        {(body) => {
          const entries = ((body as Untyped)['entries'] ?? []) as Untyped[];
          return (
            <table aria-label="Threshold audit log">
              <thead>
                <tr>
                  <th scope="col">When</th>
                  <th scope="col">By</th>
                  <th scope="col">From</th>
                  <th scope="col">To</th>
                  <th scope="col">Note</th>
                </tr>
              </thead>
              <tbody>
                {entries.length === 0 && (
                  <tr>
                    <td colSpan={5} class="muted">
                      Never changed at run time.
                    </td>
                  </tr>
                )}
                {entries.map((entry) => (
                  <tr key={textOf(entry['change_id'])}>
                    <td>{textOf(entry['changed_at'])}</td>
                    <td>{textOf(entry['changed_by'])}</td>
                    <td>{textOf(entry['old_value'])}</td>
                    <td>{textOf(entry['new_value'])}</td>
                    <td>{textOf(entry['actor_note'])}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          );
        }}
      </Loading>
    </section>
  );
}

function Reconciliation() {
  const loaded = useLoad(() => get('/api/reconciliation', '/api/reconciliation'), 'reconciliation');
  return (
    <section aria-labelledby="reconciliation">
      <h2 id="reconciliation">Reconciliation</h2>
      <Loading loaded={loaded}>
        {(body) => {
          const report = body as Untyped;
          const findings = (report['findings'] ?? []) as Untyped[];
          const violations = (report['violations'] ?? []) as unknown[];
          return (
            <>
              <dl>
                <Field label="Safety">{report['ok'] === true ? <span class="ok">ok</span> : <strong class="error">{violations.length} violations</strong>}</Field>
                <Field label="Liveness">{report['liveness_ok'] === true ? <span class="ok">ok</span> : <strong>{findings.length} findings</strong>}</Field>
                <Field label="Last run">
                  <When at={typeof report['checked_at'] === 'string' ? report['checked_at'] : null} />
                </Field>
                <Field label="Unrouted payments">{textOf(report['unrouted_payments'])}</Field>
              </dl>
              {findings.length > 0 && (
                <ul>
                  {findings.map((finding) => (
                    <li key={textOf(finding['finding_id'])}>
                      {textOf(finding['severity'])} {textOf(finding['kind'])} {textOf(finding['subject'])}: {textOf(finding['detail'])}
                    </li>
                  ))}
                </ul>
              )}
            </>
          );
        }}
      </Loading>
    </section>
  );
}

export function OperationsPage() {
  return (
    <>
      <ViewerNote />
      <DeadLetters />
      <ConsumerGroups />
      <Threshold />
      <Quarantine />
      <Reconciliation />
    </>
  );
}

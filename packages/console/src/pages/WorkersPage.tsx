import { useQuery } from '@tanstack/react-query';
import { useConnection } from '../lib/realtime.js';
import { ago, clock, duration } from '../lib/format.js';
import { useNow } from '../lib/use-now.js';
import { Empty, ErrorLine } from '../components/Empty.js';

/** The worker fleet: who is live, which lanes they serve, how busy they are. */
export function WorkersPage() {
  const { client } = useConnection();
  const now = useNow(2000);
  const workers = useQuery({
    queryKey: ['workers'],
    queryFn: () => client.workers.list(),
    refetchInterval: 5000,
  });
  const list = workers.data?.workers ?? [];
  const live = list.filter((w) => w.live);
  const slots = live.reduce((n, w) => n + w.concurrency, 0);
  const busy = live.reduce((n, w) => n + w.running, 0);
  return (
    <section aria-labelledby="workers-title">
      <div className="page-head">
        <h1 id="workers-title">Workers</h1>
        <div className="head-figures">
          <span>
            <b>{live.length}</b> live
          </span>
          <span>
            <b>{list.length - live.length}</b> gone
          </span>
          <span>
            <b>
              {busy}/{slots}
            </b>{' '}
            slots busy
          </span>
        </div>
      </div>
      <ErrorLine error={workers.error} />
      {!workers.isLoading && list.length === 0 && <Empty>No worker has registered yet.</Empty>}
      <div className="table-wrap">
        <table className="table" aria-label="Workers">
          <thead>
            <tr>
              <th scope="col">State</th>
              <th scope="col">Worker</th>
              <th scope="col">Lanes</th>
              <th scope="col">Load</th>
              <th scope="col">Version</th>
              <th scope="col">Up</th>
              <th scope="col">Last seen</th>
            </tr>
          </thead>
          <tbody>
            {list.map((w) => (
              <tr key={w.id} data-worker={w.id} className={w.live ? '' : 'row-dim'}>
                <td>
                  <span className={`dot ${w.live ? 'conn-open' : 'conn-closed'}`} aria-hidden="true" />{' '}
                  {w.live ? 'live' : 'gone'}
                </td>
                <td>
                  <code>{w.id}</code>
                  <div className="muted small">boot {w.boot_id.slice(0, 8)}</div>
                </td>
                <td>
                  {w.lanes.map((l) => (
                    <span key={l} className="kind">
                      {l}
                    </span>
                  ))}
                </td>
                <td>
                  <meter
                    min={0}
                    max={Math.max(1, w.concurrency)}
                    value={w.running}
                    aria-label={`${w.running} of ${w.concurrency} slots busy`}
                  />{' '}
                  {w.running}/{w.concurrency}
                </td>
                <td>{w.version}</td>
                <td title={clock(w.started_at)}>{duration(now - Date.parse(w.started_at))}</td>
                <td>{ago(w.last_seen_at, now)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

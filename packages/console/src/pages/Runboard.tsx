import { useQuery } from '@tanstack/react-query';
import { useConnection } from '../lib/realtime.js';
import { href } from '../lib/router.js';
import { useNow } from '../lib/use-now.js';
import { Empty, ErrorLine } from '../components/Empty.js';
import { LaneCard } from './LaneCard.js';
import { percent, recoveryDetail, recoveryRate, sumRecovered } from '../lib/recovery.js';

/** A card per lane, kept live by the `lanes` stream topic (HTTP only for the first paint and reconnects). */
export function Runboard() {
  const { client, canOperate } = useConnection();
  const now = useNow();
  const lanes = useQuery({
    queryKey: ['lanes'],
    queryFn: () => client.lanes.list(),
    refetchInterval: 30_000,
  });
  const list = lanes.data?.lanes ?? [];
  const workers = useQuery({
    queryKey: ['workers'],
    queryFn: () => client.workers.list(),
    refetchInterval: 10_000,
  });
  const live = (workers.data?.workers ?? []).filter((w) => w.live).length;
  const recovered = sumRecovered(list.map((l) => l.recovered));
  const recovery = recoveryRate(recovered);
  const totals = list.reduce((t, l) => ({ depth: t.depth + l.depth, running: t.running + l.running }), {
    depth: 0,
    running: 0,
  });
  return (
    <section aria-labelledby="runboard-title">
      <div className="page-head">
        <h1 id="runboard-title">Runboard</h1>
        <div className="head-figures" aria-label="Totals">
          <span>
            <b>{totals.depth}</b> queued
          </span>
          <span>
            <b>{totals.running}</b> running
          </span>
          <span>
            <b>{live}</b> worker{live === 1 ? '' : 's'} live
          </span>
          <span data-fig="recovery" title={recoveryDetail(recovered)}>
            <b>{percent(recovery.rate)}</b> of {recovery.ended} recovered run{recovery.ended === 1 ? '' : 's'}{' '}
            succeeded
          </span>
        </div>
        {canOperate && (
          <a className="btn btn-primary" href={href('templates')}>
            Start a run
          </a>
        )}
      </div>
      <ErrorLine error={lanes.error} />
      {lanes.isLoading && <Empty>Loading lanes…</Empty>}
      {!lanes.isLoading && list.length === 0 && (
        <Empty>No lanes yet: a lane appears when a run is enqueued into it or a worker serves it.</Empty>
      )}
      <div className="lanes">
        {list.map((lane) => (
          <LaneCard key={lane.name} lane={lane} now={now} />
        ))}
      </div>
    </section>
  );
}

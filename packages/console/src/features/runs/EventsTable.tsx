import { useMemo, useState } from 'react';
import { TableVirtuoso } from 'react-virtuoso';
import { useConnection } from '../../lib/realtime.js';
import { useRunEvents } from '../../lib/run-log.js';
import { time } from '../../lib/format.js';
import { LEVELS } from '../logs/log-format.js';

/** Every event of the run with filters by type and level (log lines hidden unless asked for). */
export function EventsTable({ runId }: { runId: string }) {
  const { stream } = useConnection();
  const { events, version } = useRunEvents(stream, runId);
  const [type, setType] = useState('');
  const [level, setLevel] = useState('');
  const [withLogs, setWithLogs] = useState(false);
  const types = useMemo(() => [...new Set(events.map((e) => e.type))].sort(), [events, version]);
  const rows = useMemo(
    () =>
      events.filter(
        (e) => (withLogs || e.type !== 'log') && (!type || e.type === type) && (!level || e.level === level),
      ),
    [events, version, type, level, withLogs],
  );
  return (
    <div className="events">
      <div className="filters" aria-label="Filter events">
        <label>
          Type
          <select value={type} onChange={(e) => setType(e.target.value)}>
            <option value="">any</option>
            {types.map((t) => (
              <option key={t}>{t}</option>
            ))}
          </select>
        </label>
        <label>
          Level
          <select value={level} onChange={(e) => setLevel(e.target.value)}>
            <option value="">any</option>
            {LEVELS.map((l) => (
              <option key={l}>{l}</option>
            ))}
          </select>
        </label>
        <label className="chip">
          <input type="checkbox" checked={withLogs} onChange={(e) => setWithLogs(e.target.checked)} /> include
          log lines
        </label>
        <span className="muted small">{rows.length} events</span>
      </div>
      <TableVirtuoso
        className="events-table"
        style={{ height: '55vh' }}
        data={rows}
        fixedHeaderContent={() => (
          <tr>
            <th>Seq</th>
            <th>Time</th>
            <th>Level</th>
            <th>Type</th>
            <th>Step</th>
            <th>Message</th>
            <th>Data</th>
          </tr>
        )}
        itemContent={(_, e) => (
          <>
            <td className="num">{e.seq}</td>
            <td className="nowrap">{time(e.ts)}</td>
            <td className={`lv-${e.level}`}>{e.level}</td>
            <td>
              <code>{e.type}</code>
            </td>
            <td>{e.step ?? ''}</td>
            <td className="msg">{e.message}</td>
            <td className="data">
              {e.data === null || e.data === undefined ? '' : <code>{JSON.stringify(e.data)}</code>}
            </td>
          </>
        )}
      />
    </div>
  );
}

import { createContext, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import { useQueryClient, type QueryClient } from '@tanstack/react-query';
import { Stream, type OcrClient, type StreamStatus } from '@ocr/client';
import { apiBase } from './session.js';
import type { LaneT, RunDetailT, RunT, WhoAmIT } from './types.js';
import { Outbox, type QueuedAction } from './outbox.js';

export interface Connection {
  client: OcrClient;
  stream: Stream;
  me: WhoAmIT;
  /** operator and admin may start, cancel and retry runs and edit templates; admin may pause lanes. */
  canOperate: boolean;
  isAdmin: boolean;
  status: StreamStatus;
  /** Reconnects so far (shown next to the indicator). */
  reconnects: number;
  outbox: Outbox;
  queued: QueuedAction[];
  signOut: () => void;
}

const Ctx = createContext<Connection | null>(null);

export function useConnection(): Connection {
  const value = useContext(Ctx);
  if (!value) throw new Error('useConnection outside ConnectionProvider');
  return value;
}

/** A run status change from the stream, written into every cached view of that run. */
export function applyRun(qc: QueryClient, run: RunT): void {
  qc.setQueryData<RunDetailT>(['run', run.id], (old) => (old ? { ...old, run } : old));
  qc.setQueriesData<{ runs: RunT[]; next_cursor: string | null }>({ queryKey: ['runs'] }, (old) =>
    old ? { ...old, runs: old.runs.map((r) => (r.id === run.id ? run : r)) } : old,
  );
}

/**
 * One WebSocket per signed-in tab: lanes snapshots and run changes go straight into the query cache; run
 * logs subscribe through `stream` (see run-log.ts). On every reconnect the HTTP views are refetched, so
 * whatever changed while the socket was down shows up, and queued actions are sent.
 */
export function ConnectionProvider(props: {
  client: OcrClient;
  token: string;
  me: WhoAmIT;
  onSignOut: () => void;
  children: ReactNode;
}) {
  const qc = useQueryClient();
  const [status, setStatus] = useState<StreamStatus>('connecting');
  const [reconnects, setReconnects] = useState(0);
  const [queued, setQueued] = useState<QueuedAction[]>([]);
  const opened = useRef(false);
  const outbox = useMemo(() => new Outbox(setQueued), []);
  const stream = useMemo(
    () =>
      new Stream({
        baseUrl: apiBase(),
        token: props.token,
        maxBackoffMs: 8000,
        onStatus: (s) => setStatus(s),
      }),
    [props.token],
  );

  useEffect(() => {
    stream.subscribe('lanes', (lanes) => qc.setQueryData(['lanes'], { lanes: lanes as LaneT[] }));
    stream.subscribe('runs', (run) => applyRun(qc, run as RunT));
    return () => stream.close();
  }, [stream, qc]);

  useEffect(() => {
    outbox.online = status === 'open';
    if (status !== 'open') return;
    if (opened.current) {
      setReconnects((n) => n + 1);
      void qc.invalidateQueries();
    }
    opened.current = true;
    void outbox.flush();
  }, [status, outbox, qc]);

  const value: Connection = {
    client: props.client,
    stream,
    me: props.me,
    canOperate: props.me.role === 'admin' || props.me.role === 'operator',
    isAdmin: props.me.role === 'admin',
    status,
    reconnects,
    outbox,
    queued,
    signOut: props.onSignOut,
  };
  return <Ctx.Provider value={value}>{props.children}</Ctx.Provider>;
}

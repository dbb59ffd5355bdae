import { createContext, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import { useQueryClient, type QueryClient } from '@tanstack/react-query';
import { Stream, type OcrClient, type StreamStatus } from '@ocr/client';
import { apiBase } from './session.js';
import type { LaneT, RunDetailT, RunT, WhoAmIT } from './types.js';
import { describe, Outbox, thisTab, type PendingAction, type Settled } from './outbox.js';
import { useToast } from '../components/Toasts.js';

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
  /** Actions not yet answered by the API (sending, or queued until the connection is back). */
  pending: PendingAction[];
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

/** A run as the operator should see it: with the cancel they asked for shown before the API confirms it. */
export function withPending(run: RunT, pending: PendingAction[]): RunT {
  const cancelling = pending.some((a) => a.kind === 'cancel' && a.run.id === run.id);
  return cancelling && !run.cancel_requested ? { ...run, cancel_requested: true } : run;
}

/** The pending action of this kind on this run, if any. */
export function pendingOn(pending: PendingAction[], kind: 'cancel' | 'retry', runId: string) {
  return pending.find((a) => a.kind === kind && a.run.id === runId);
}

const VERB = { cancel: 'Cancel', retry: 'Retry', create: 'Start' } as const;

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
  const toast = useToast();
  const opened = useRef(false);
  const [browserOnline, setBrowserOnline] = useState(() => navigator.onLine);
  // The API's answer to an action, whichever page (or earlier page load) sent it: confirm it in the
  // cached views, or roll it back (the optimistic state simply goes with the pending action) and say why.
  const settled = (action: PendingAction, result: Settled) => {
    if (!result.ok) {
      if (action.kind !== 'create') void qc.invalidateQueries({ queryKey: ['run', action.run.id] });
      toast('error', `${VERB[action.kind]} failed: ${(result.error as Error).message} (${describe(action)})`);
      return;
    }
    if (action.kind === 'cancel') {
      applyRun(qc, result.run);
      toast(
        'info',
        `Cancel ${result.run.status === 'cancelled' ? 'done' : 'requested'}: ${describe(action)}`,
      );
    } else {
      void qc.invalidateQueries({ queryKey: ['runs'] });
      const what = action.kind === 'retry' ? 'Retry started' : 'Started';
      toast(
        'info',
        `${what}: ${result.run.template} ${result.run.id.slice(0, 8)} on lane ${result.run.lane}`,
      );
    }
  };
  const settledRef = useRef(settled);
  settledRef.current = settled;
  const toastRef = useRef(toast);
  toastRef.current = toast;
  const [outbox, setOutbox] = useState<Outbox | null>(null);
  const [pending, setPending] = useState<PendingAction[]>([]);
  useEffect(() => {
    const prefix = `ocr.outbox.${props.me.token_id}`;
    let box: Outbox | undefined;
    let left = false;
    // Another tab of this token queued or answered an action: list it here (this tab sends it once that tab
    // is closed), or take it off the list. Without this, a closed tab's queued action sat in storage, unseen.
    const onStorage = (e: StorageEvent) => {
      if (e.storageArea === localStorage && (e.key === null || e.key.startsWith(`${prefix}.`))) box?.sync();
    };
    window.addEventListener('storage', onStorage);
    void thisTab().then((tab) => {
      if (left) return;
      box = new Outbox(props.client, prefix, tab, {
        changed: setPending,
        settled: (a, r) => settledRef.current(a, r),
        unsaved: (a) =>
          toastRef.current(
            'error',
            `Could not save "${describe(a)}" in this browser (storage full or refused): it is sent from this tab only, and lost if the tab is closed or reloaded before that`,
          ),
      });
      setPending(box.list());
      setOutbox(box);
    });
    return () => {
      left = true;
      window.removeEventListener('storage', onStorage);
      box?.close();
    };
  }, [props.client, props.me.token_id]);
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
    const up = () => setBrowserOnline(true);
    const down = () => setBrowserOnline(false);
    window.addEventListener('online', up);
    window.addEventListener('offline', down);
    return () => {
      window.removeEventListener('online', up);
      window.removeEventListener('offline', down);
    };
  }, []);

  useEffect(() => {
    if (status !== 'open') return;
    if (opened.current) {
      setReconnects((n) => n + 1);
      void qc.invalidateQueries();
    }
    opened.current = true;
  }, [status, qc]);

  useEffect(() => outbox?.setOnline(status === 'open' && browserOnline), [outbox, status, browserOnline]);

  if (!outbox) return null;

  const value: Connection = {
    client: props.client,
    stream,
    me: props.me,
    canOperate: props.me.role === 'admin' || props.me.role === 'operator',
    isAdmin: props.me.role === 'admin',
    status,
    reconnects,
    outbox,
    pending,
    signOut: () => {
      // Leaving on purpose drops what is still waiting; a reload keeps it.
      outbox.discard();
      props.onSignOut();
    },
  };
  return <Ctx.Provider value={value}>{props.children}</Ctx.Provider>;
}

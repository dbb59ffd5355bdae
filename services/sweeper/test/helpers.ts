import { createServer, connect as netConnect, type Server, type Socket } from 'node:net';
import type pg from 'pg';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import type { Kysely } from 'kysely';
import type { Database } from '@ocr/db';
import type { TestLike } from '@ocr/testkit';
import {
  createSweeper,
  loadSweeperConfig,
  type Sweeper,
  type TickReport,
  type MonotonicClock,
} from '../src/index.js';

/** Silent unless OCR_TEST_LOG_LEVEL asks for logs. */
export const testLog = pino({ level: process.env.OCR_TEST_LOG_LEVEL ?? 'silent' });

/** Small timings so a test takes seconds: timeout 1 s, heartbeats 0.2 s, sweeps every 0.1 s. */
export const FAST_ENV = {
  OCR_SWEEP_INTERVAL_S: '0.1',
  OCR_HEARTBEAT_INTERVAL_S: '0.2',
  OCR_HEARTBEAT_TIMEOUT_S: '1',
  OCR_LEADER_TTL_S: '0.6',
  OCR_CANCEL_GRACE_S: '30',
};

/** A sweeper over `db` with FAST_ENV and overrides, stopped (and resigned) at teardown; not started. */
export function testSweeper(
  t: TestLike,
  db: Kysely<Database>,
  options: { id: string; env?: Record<string, string>; clock?: MonotonicClock },
): { sweeper: Sweeper; registry: Registry } {
  const config = loadSweeperConfig({
    DATABASE_URL: 'postgres://unused',
    OCR_SWEEPER_ID: options.id,
    ...FAST_ENV,
    ...options.env,
  });
  const registry = new Registry();
  const sweeper = createSweeper({
    db,
    log: testLog.child({ sweeper: options.id }),
    config,
    registry,
    clock: options.clock,
  });
  t.teardown(() => sweeper.stop());
  return { sweeper, registry };
}

/** Resolve with the first tick report (from now on) that matches; reject after `timeoutMs`. */
export function reportWhere(
  sweeper: Sweeper,
  match: (report: TickReport) => boolean,
  timeoutMs = 15_000,
): Promise<TickReport> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      sweeper.off('tick', onTick);
      reject(new Error('no matching sweeper tick in time'));
    }, timeoutMs);
    const onTick = (report: TickReport) => {
      if (!match(report)) return;
      clearTimeout(timer);
      sweeper.off('tick', onTick);
      resolve(report);
    };
    sweeper.on('tick', onTick);
  });
}

/** Pretend the workers of these runs went silent `seconds` ago (their heartbeat moves back in time). */
export async function ageHeartbeats(pool: pg.Pool, runIds: string[], seconds: number): Promise<void> {
  await pool.query(
    `UPDATE runs SET heartbeat_at = heartbeat_at - make_interval(secs => $2) WHERE id = ANY($1::uuid[])`,
    [runIds, seconds],
  );
}

/** How many `requeued` / `failed` events each run has. */
export async function sweepEventCounts(
  pool: pg.Pool,
  type: 'requeued' | 'failed',
): Promise<Map<string, number>> {
  const { rows } = await pool.query<{ run_id: string; n: number }>(
    `SELECT run_id, count(*)::int AS n FROM run_timeline WHERE type = $1 GROUP BY run_id`,
    [type],
  );
  return new Map(rows.map((row) => [row.run_id, row.n]));
}

/**
 * Record every change of a run's status, and every update at all to a run already in a terminal state,
 * with a trigger in the test's own database: the witness for "no terminal run ever changes".
 */
export async function installStatusAudit(pool: pg.Pool): Promise<void> {
  await pool.query(`
    CREATE TABLE status_audit (
      id bigserial PRIMARY KEY, run_id uuid NOT NULL, old_status text NOT NULL, new_status text NOT NULL,
      old_attempt int NOT NULL, new_attempt int NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp()
    );
    CREATE FUNCTION audit_run_status() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF OLD.status IS DISTINCT FROM NEW.status OR OLD.status IN ('success', 'error', 'cancelled') THEN
        INSERT INTO status_audit (run_id, old_status, new_status, old_attempt, new_attempt)
        VALUES (NEW.id, OLD.status, NEW.status, OLD.attempt, NEW.attempt);
      END IF;
      RETURN NEW;
    END $$;
    CREATE TRIGGER runs_status_audit AFTER UPDATE ON runs FOR EACH ROW EXECUTE FUNCTION audit_run_status();
  `);
}

/** A TCP proxy in front of Postgres that a test takes down (dropping every connection) and brings back. */
export interface TcpProxy {
  port: number;
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

/** Start a proxy on a free loopback port towards `target`; closed at teardown. */
export async function startTcpProxy(t: TestLike, target: { host: string; port: number }): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;
  const listen = async () => {
    const s = createServer((client) => {
      const upstream = netConnect(target.port, target.host);
      for (const socket of [client, upstream]) {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
        socket.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(port, '127.0.0.1', resolve);
    });
    server = s;
    port = (s.address() as { port: number }).port;
  };
  const down = async () => {
    const s = server;
    server = undefined;
    for (const socket of sockets) socket.destroy();
    sockets.clear();
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  };
  await listen();
  t.teardown(down);
  return {
    get port() {
      return port;
    },
    down,
    up: listen,
    close: down,
  };
}

/** `url` with its host and port replaced (to go through a proxy). */
export function viaPort(url: string, port: number): string {
  const parsed = new URL(url);
  parsed.hostname = '127.0.0.1';
  parsed.port = String(port);
  return parsed.toString();
}

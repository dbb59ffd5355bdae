/**
 * Signalling a whole process group. Steps are spawned `detached`, so the child's pid is its group id and
 * `kill(-pid)` reaches every process it started (a plain kill would leave grandchildren running).
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Send `signal` to every process of the group; false when the group is already gone. */
export function signalGroup(pid: number | undefined, signal: NodeJS.Signals): boolean {
  if (!pid) return false;
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * Is any process of the group still running? A killed process whose new parent (init) has not reaped it
 * yet is a zombie: it still answers `kill(-pgid, 0)` but runs nothing, so on Linux /proc is read to leave
 * zombies out; elsewhere the signal probe is the answer.
 */
export function groupAlive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(-pid, 0);
  } catch (err) {
    // EPERM means a member exists but is not ours to signal: still alive.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  const members = liveGroupMembers(pid);
  return members === undefined || members.length > 0;
}

/** Pids of the group's members that are not zombies, from /proc; undefined when /proc is not there. */
export function liveGroupMembers(pgid: number): number[] | undefined {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return undefined;
  }
  const members: number[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = procStat(entry);
    if (stat && stat.pgrp === pgid && stat.state !== 'Z' && stat.state !== 'X') members.push(Number(entry));
  }
  return members;
}

/** State and process group of one process, or undefined once it is gone. */
export function procStat(pid: number | string): { state: string; pgrp: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // `pid (comm) state ppid pgrp …` — comm may hold spaces and parentheses, so read after the last ')'.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0] ?? '', pgrp: Number(fields[2]) };
  } catch {
    return undefined;
  }
}

/**
 * Resolves once no live member of the group is left, or after `timeoutMs`. SIGKILL is queued when
 * `kill()` returns, but the target dies only when the kernel next schedules it: on a busy machine that
 * is later than the shell's exit, so "no orphan" needs this wait.
 */
export async function groupGone(pid: number | undefined, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (groupAlive(pid)) {
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return true;
}

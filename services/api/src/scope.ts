import type { Lane } from '@ocr/contracts';
import { apiError } from './errors.js';

/**
 * What a token may touch beyond its role: the only lanes and the only templates (null: every one). Row-level
 * access for runs, their events and artifacts, templates, the stream and worker claims; see docs/security.md.
 */
export interface Scope {
  lanes: string[] | null;
  templates: string[] | null;
}

/** Is this scope limited at all? An unlimited one needs no extra lookups. */
export const isScoped = (scope: Scope): boolean => scope.lanes !== null || scope.templates !== null;

export const laneAllowed = (scope: Scope, lane: string): boolean =>
  scope.lanes === null || scope.lanes.includes(lane);

export const templateAllowed = (scope: Scope, template: string): boolean =>
  scope.templates === null || scope.templates.includes(template);

/** A run (or anything of a run) is in scope when both its lane and its template are. */
export const runAllowed = (scope: Scope, run: { lane: string; template: string }): boolean =>
  laneAllowed(scope, run.lane) && templateAllowed(scope, run.template);

/** 403 `out_of_scope`, naming what was refused and what the token allows. */
export function outOfScope(what: string, scope: Scope) {
  const allows = [
    scope.lanes ? `lanes ${scope.lanes.join(', ')}` : null,
    scope.templates ? `templates ${scope.templates.join(', ')}` : null,
  ]
    .filter(Boolean)
    .join(' and ');
  return apiError('out_of_scope', `${what} is outside this token's scope (it allows only ${allows})`, {
    lanes: scope.lanes,
    templates: scope.templates,
  });
}

export function assertLane(scope: Scope, lane: string, field = 'lane'): void {
  if (!laneAllowed(scope, lane)) throw outOfScope(`${field} ${lane}`, scope);
}

export function assertTemplate(scope: Scope, template: string, field = 'template'): void {
  if (!templateAllowed(scope, template)) throw outOfScope(`${field} ${template}`, scope);
}

export function assertRun(scope: Scope, run: { id: string; lane: string; template: string }): void {
  if (!runAllowed(scope, run))
    throw outOfScope(`run ${run.id} (lane ${run.lane}, template ${run.template})`, scope);
}

/** Lanes as a scoped token sees them: only its lanes, and in them only runs of its templates. */
export function lanesInScope(scope: Scope, lanes: Lane[]): Lane[] {
  if (!isScoped(scope)) return lanes;
  const visible = <T extends { template: string }>(r: T | null): T | null =>
    r && templateAllowed(scope, r.template) ? r : null;
  return lanes
    .filter((lane) => laneAllowed(scope, lane.name))
    .map((lane) => ({
      ...lane,
      active: lane.active.filter((r) => templateAllowed(scope, r.template)),
      last_completed: visible(lane.last_completed),
    }));
}

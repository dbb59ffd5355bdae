/**
 * What a step emits, shared by the executors and the output framer (a leaf module, so neither imports
 * the other).
 */

/** Event severity, as stored on the run's timeline. */
export type EventLevel = 'debug' | 'info' | 'warn' | 'error';

/**
 * An event a step emits: a line of output (`type: 'log'`, `data.stream`), a stage of cancellation
 * (`cancel.signalled`, `cancel.killed`), a truncation notice, an HTTP response, … The run adds `seq` and
 * `ts`, and `step` (the context's step name) when the executor leaves it out.
 */
export interface StepEvent {
  level: EventLevel;
  type: string;
  message: string;
  step?: string;
  data?: Record<string, unknown>;
}

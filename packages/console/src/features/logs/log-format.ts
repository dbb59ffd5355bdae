import type { EventT } from '../../lib/types.js';

/** One event as a line of the text export: `seq ts level [step] message`. */
export function eventLine(e: EventT): string {
  return `${e.seq} ${e.ts} ${e.level.padEnd(5)} ${e.type === 'log' ? '' : `${e.type} `}${e.step ? `[${e.step}] ` : ''}${e.message}`;
}

export const LEVELS = ['debug', 'info', 'warn', 'error'] as const;

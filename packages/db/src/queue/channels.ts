/**
 * NOTIFY channels. Payloads carry only ids and numbers: they are wake-up hints, and every reader goes
 * back to the tables for the data (so a lost notification costs latency, never an event).
 */
/** After an enqueue; payload: lane name. */
export const ENQUEUE_CHANNEL = 'ocr_enqueue';
/** After events are appended to a run; payload: `<run_id>:<last_seq>`. */
export const EVENTS_CHANNEL = 'ocr_events';
/** After a run changes status (claimed, finished, requeued, cancel requested); payload: run id. */
export const STATUS_CHANNEL = 'ocr_run_status';

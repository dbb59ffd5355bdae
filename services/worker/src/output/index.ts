/** Output framing: byte streams → line events, with head-and-tail truncation. */
export {
  DEFAULT_OUTPUT_LIMITS,
  OutputFramer,
  type OutputLimits,
  type OutputSummary,
} from './output-framer.js';
export { LineSplitter, type LineSink } from './line-splitter.js';

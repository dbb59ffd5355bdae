export * from './errors.js';
export * from './common.js';
export * from './templates.js';
export * from './runs.js';
export * from './worker-protocol.js';
export * from './admin.js';
export * from './stream.js';
export * from './render.js';

/**
 * `{{params.x}}` placeholders rendered safely per field, and params as `OCR_PARAM_*` variables. Pure and
 * shared: the worker's executors render with it, and the API's template preview shows exactly the same.
 */
export { ParamError } from './param-error.js';
export { paramEnv, paramEnvName } from './env.js';
export { paramText } from './param-text.js';
export { renderContainerCommand, renderEnv, renderJson, renderText, renderUrl, shellQuote } from './render.js';
export { renderShellScript } from './shell-script.js';

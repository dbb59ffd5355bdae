/** Params in steps: environment variables and `{{params.x}}` placeholders rendered safely per field. */
export { paramEnv, paramEnvName } from './env.js';
export { paramText } from './param-text.js';
export { renderContainerCommand, renderEnv, renderJson, renderText, renderUrl, shellQuote } from './render.js';
export { renderShellScript } from './shell-script.js';

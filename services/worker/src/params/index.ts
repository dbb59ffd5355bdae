/** Params in steps: environment variables and `{{params.x}}` placeholders rendered safely per field. */
export { paramEnv, paramEnvName } from './env.js';
export { paramText, renderContainerCommand, renderEnv, renderJson, renderShellScript, renderText, renderUrl, shellQuote } from './render.js';

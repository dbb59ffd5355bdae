/** Params in steps: the shared renderers of `@ocr/contracts` (the API's preview uses the same). */
export {
  ParamError,
  paramEnv,
  paramEnvName,
  paramText,
  renderArgv,
  renderContainerCommand,
  renderEnv,
  renderJson,
  renderShellScript,
  renderText,
  renderUrl,
  shellQuote,
} from '@ocr/contracts';

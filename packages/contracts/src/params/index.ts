/**
 * Placeholders (`{{params.x}}`, `{{secrets.NAME}}`): where each may stand (the analyzers, run at template
 * save and again by the worker), how each field renders it, and params as `OCR_PARAM_*` variables. Pure and
 * shared: the API's save, validate and preview and the worker's executors use the same code.
 */
export { ParamError } from './param-error.js';
export { kitPathProblem } from './kit-path.js';
export { paramEnv, paramEnvName } from './env.js';
export { paramText } from './param-text.js';
export {
  renderArgv,
  renderContainerCommand,
  renderEnv,
  renderJson,
  renderText,
  shellQuote,
} from './render.js';
export { renderUrl, checkUrlTemplate, secretValue } from './url.js';
export { renderShellScript } from './shell-script.js';
export {
  analyzeShellScript,
  lineColumn,
  type ShellAnalysis,
  type ShellPlacement,
  type ShellRefusal,
  type PlacementMode,
} from './shell-analysis.js';
export { analyzeArgv, type ArgvAnalysis } from './argv-analysis.js';
export {
  findPlaceholders,
  interpreterName,
  isCodeVariable,
  secretEnvName,
  type Namespace,
  type PlaceholderAt,
} from './placeholders.js';
export {
  checkTemplatePlaceholders,
  integerParams,
  paramValueProblems,
  DEFAULT_PARAM_MAX_LENGTH,
  ALLOW_LEADING_DASH,
  type PlacementProblem,
  type TemplatePlacements,
} from './template-check.js';

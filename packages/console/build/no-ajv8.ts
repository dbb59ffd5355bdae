/**
 * @rjsf/core's index re-exports getTestRegistry (a helper for rjsf's own tests, never called by the console),
 * which imports @rjsf/validator-ajv8: the console no longer installs it (Ajv generates code, which the CSP
 * forbids), so on a fresh `npm ci` the build cannot resolve the import. This stands in for it; tree-shaking
 * drops it together with getTestRegistry.
 */
const unused = undefined;
export default unused;

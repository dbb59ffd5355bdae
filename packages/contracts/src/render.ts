/**
 * The template preview: each step with its `{{params.x}}` placeholders rendered by the same functions the
 * worker's executors use (./params), field by field as each kind renders them, so what the preview shows
 * is what runs. A shell script shows the quoted variable references it will really contain; the param
 * values reach the step as `OCR_PARAM_*` variables. A placeholder that cannot be rendered throws the same
 * `ParamError` the worker would fail the step with. `{{secrets.NAME}}` shows as `••••`: the values live only
 * on the workers (the API never has them).
 */
import {
  renderArgv,
  renderContainerCommand,
  renderEnv,
  renderJson,
  renderShellScript,
  renderText,
  renderUrl,
  findPlaceholders,
} from './params/index.js';

type Params = Record<string, unknown>;
type Secrets = Record<string, string>;

/** Every secret a step references, shown as the mask the worker's output shows. */
function maskedSecrets(step: unknown): Secrets {
  const out: Secrets = {};
  const walk = (value: unknown): void => {
    if (typeof value === 'string') {
      for (const p of findPlaceholders(value)) if (p.ns === 'secrets') out[p.name] = '••••';
    } else if (Array.isArray(value)) value.forEach(walk);
    else if (value && typeof value === 'object') Object.values(value).forEach(walk);
  };
  walk(step);
  return out;
}

const strings = (map: unknown, params: Params, secrets: Secrets): Record<string, string> | undefined =>
  map && typeof map === 'object'
    ? Object.fromEntries(
        Object.entries(map as Record<string, string>).map(([k, v]) => [
          k,
          renderText(String(v), params, secrets),
        ]),
      )
    : undefined;

/** Drop fields that rendered to `undefined`, so the preview keeps the step's own shape. */
const defined = (step: Record<string, unknown>): Record<string, unknown> =>
  Object.fromEntries(Object.entries(step).filter(([, v]) => v !== undefined));

/** A step with its placeholders rendered the way its executor will render them. */
export function renderStep(step: Record<string, unknown>, params: Params): Record<string, unknown> {
  const secrets = maskedSecrets(step);
  const env = step.env ? renderEnv(step.env as Record<string, string>, params, secrets) : undefined;
  switch (step.kind) {
    case 'shell':
      return defined({ ...step, script: renderShellScript(String(step.script ?? ''), params, secrets), env });
    case 'docker':
      // The image's entrypoint is unknown here: a shell entrypoint's script shows as plain text.
      return defined({
        ...step,
        command: Array.isArray(step.command)
          ? renderContainerCommand(step.command.map(String), params, [], secrets)
          : undefined,
        env,
      });
    case 'http':
      return defined({
        ...step,
        url: renderUrl(String(step.url ?? ''), params, secrets),
        headers: strings(step.headers, params, secrets),
        body:
          typeof step.body === 'string'
            ? renderText(step.body, params, secrets)
            : step.body === undefined
              ? undefined
              : renderJson(step.body, params, secrets),
      });
    case 'mcp': {
      const server = (step.server ?? {}) as Record<string, unknown>;
      const rendered =
        typeof server.url === 'string'
          ? defined({
              url: renderUrl(server.url, params, secrets),
              headers: strings(server.headers, params, secrets),
            })
          : defined({
              ...server,
              args: Array.isArray(server.args)
                ? renderArgv([String(server.command ?? ''), ...server.args.map(String)], params, secrets, 1)
                : undefined,
              env: server.env ? renderEnv(server.env as Record<string, string>, params, secrets) : undefined,
            });
      return defined({
        ...step,
        server: rendered,
        arguments: renderJson(step.arguments ?? {}, params, secrets),
      });
    }
    default:
      return step.input === undefined ? step : { ...step, input: renderJson(step.input, params, secrets) };
  }
}

const SECRET_NAME = /(secret|token|password|passwd|api[_-]?key|credential)/i;

/** Params the schema marks secret (`writeOnly: true` or `format: "password"`): never shown by the API, masked in output. */
export function secretParamNames(schema: unknown): Set<string> {
  const props =
    (
      schema as
        { properties?: Record<string, { writeOnly?: boolean; format?: string } | undefined> } | undefined
    )?.properties ?? {};
  return new Set(
    Object.entries(props)
      .filter(([, p]) => p?.writeOnly === true || p?.format === 'password')
      .map(([name]) => name),
  );
}

/** Params with secret-looking values masked (by schema `writeOnly`/`format: password`, or by name). */
export function maskSecrets(
  params: Record<string, unknown>,
  schema?: { properties?: Record<string, { writeOnly?: boolean; format?: string }> },
): Record<string, unknown> {
  const masked: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(params)) {
    const prop = schema?.properties?.[name];
    const secret = prop?.writeOnly || prop?.format === 'password' || SECRET_NAME.test(name);
    masked[name] = secret && value !== undefined && value !== null ? '••••••' : value;
  }
  return masked;
}

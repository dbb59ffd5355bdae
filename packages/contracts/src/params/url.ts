/**
 * Placeholders in URLs (`http` steps, MCP servers over HTTP). A value may fill part of the path, the query
 * or the fragment, never the scheme, credentials, host or port: the URL's prefix up to the first
 * placeholder must already name the scheme and host. Each value is percent-encoded, and a path segment that
 * comes out as `.` or `..` (also as `%2e`) is refused, since URL parsers remove or climb segments for them.
 */
import { ParamError } from './param-error.js';
import { paramText } from './param-text.js';
import { findPlaceholders, PLACEHOLDER_SOURCE } from './placeholders.js';

type Params = Record<string, unknown>;

const FIXED_ORIGIN = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#{}\s]+[/?#]/;

/** Why a URL template's placeholders cannot stand where they are, if they cannot. */
export function checkUrlTemplate(url: string): { offset: number; message: string } | undefined {
  const first = findPlaceholders(url)[0];
  if (!first) return undefined;
  const prefix = url.slice(0, first.start);
  if (!FIXED_ORIGIN.test(prefix)) {
    return {
      offset: first.start,
      message: `{{${first.ns}.${first.name}}} is in the scheme, credentials, host or port of the URL; a param may only fill the path after a fixed https://host/, the query or the fragment (use allow_hosts and a fixed host)`,
    };
  }
  return undefined;
}

const DOT_SEGMENT = /^(?:\.|%2e){1,2}$/i;

/** A URL with each placeholder percent-encoded; refused when unsafe (see above) or when it makes a dot segment. */
export function renderUrl(template: string, params: Params, secrets: Record<string, string> = {}): string {
  if (findPlaceholders(template).length === 0) return template;
  const problem = checkUrlTemplate(template);
  if (problem) throw new ParamError('unsafe_placeholder', problem.message);
  const origin = FIXED_ORIGIN.exec(template)![0].slice(0, -1);
  const rest = template.slice(origin.length);
  const pathEnd = rest.search(/[?#]/);
  const path = pathEnd === -1 ? rest : rest.slice(0, pathEnd);
  const fill = (text: string) =>
    text.replace(new RegExp(PLACEHOLDER_SOURCE, 'g'), (_, ns: string, name: string) =>
      encodeURIComponent(ns === 'secrets' ? secretValue(secrets, name) : paramText(params, name)),
    );
  const segments = path.split('/').map((segment) => {
    const rendered = fill(segment);
    if (rendered !== segment && DOT_SEGMENT.test(rendered))
      throw new ParamError(
        'param_invalid',
        'a param would make a URL path segment "." or "..", which would remove or climb a segment',
      );
    return rendered;
  });
  return origin + segments.join('/') + (pathEnd === -1 ? '' : fill(rest.slice(pathEnd)));
}

/** A secret's value, or a clear error naming it. */
export function secretValue(secrets: Record<string, string>, name: string): string {
  if (!Object.hasOwn(secrets, name))
    throw new ParamError(
      'secret_missing',
      `the step uses {{secrets.${name}}} but this worker has no secret "${name}"`,
    );
  return secrets[name]!;
}

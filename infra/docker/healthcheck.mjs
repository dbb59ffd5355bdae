// Docker HEALTHCHECK without curl (the image has none): GET /healthz on this container's own process.
// One image runs every command, each on its own default port, so the port comes from PORT or, failing
// that, from the command PID 1 runs (tini -- node packages/cli/bin/ocr.js <command>).
import { readFileSync } from 'node:fs';

const DEFAULT_PORTS = { api: 8080, dev: 8080, worker: 9101, sweeper: 9102 };

function command() {
  try {
    const argv = readFileSync('/proc/1/cmdline', 'utf8').split('\0');
    const cli = argv.indexOf('packages/cli/bin/ocr.js');
    return cli >= 0 ? argv[cli + 1] : undefined;
  } catch {
    return undefined;
  }
}

const name = command();
const port = process.env.PORT || DEFAULT_PORTS[name];
// One-shot commands (migrate, tokens, ...) serve nothing: there is nothing to be unhealthy about.
if (!port) process.exit(0);

try {
  const response = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(4000) });
  process.exit(response.ok ? 0 : 1);
} catch {
  process.exit(1);
}

import { createServer } from 'node:net';

/** A port the dev stack will listen on, named by the variable that chooses it. */
export interface WantedPort {
  variable: string;
  port: number;
  host: string;
}

/** Can `port` be bound on `host` right now? (Bound and released at once; port 0 always can.) */
export function portFree(port: number, host: string): Promise<boolean> {
  if (port === 0) return Promise.resolve(true);
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/**
 * One line per port that is already taken, naming the variable to change, so `ocr dev` stops before it
 * starts anything (a second stack on the same machine needs its own PORT and OCR_HOME).
 */
export async function portProblems(wanted: WantedPort[]): Promise<string[]> {
  const problems: string[] = [];
  for (const { variable, port, host } of wanted) {
    if (!(await portFree(port, host)))
      problems.push(
        `${variable}=${port}: ${host}:${port} is already in use (another ocr dev?); choose a free port with ${variable}`,
      );
  }
  return problems;
}

import type { Logger } from 'pino';

/** A resource to release at shutdown. */
export type Releaser = () => unknown;

/**
 * LIFO shutdown: resources are released in reverse order of acquisition, each awaited, errors logged
 * and not rethrown so one stuck resource never keeps the others open.
 */
export class Lifecycle {
  private readonly releasers: { name: string; release: Releaser }[] = [];
  private closing: Promise<void> | undefined;

  constructor(private readonly log: Logger) {}

  /** Register a resource; it is released before everything registered earlier. */
  defer(name: string, release: Releaser): void {
    this.releasers.push({ name, release });
  }

  /** Release everything once; later calls return the same promise. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const { name, release } of this.releasers.reverse()) {
        try {
          await release();
        } catch (err) {
          this.log.error({ err, resource: name }, 'release failed');
        }
      }
    })();
    return this.closing;
  }

  /**
   * Two-stage signals: the first SIGTERM/SIGINT closes gracefully within `graceMs`, a second one (or the
   * deadline) exits at once with status 1.
   */
  installSignals(graceMs: number, exit: (code: number) => void = (code) => process.exit(code)): void {
    let signalled = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (signalled) {
        this.log.warn({ signal }, 'second signal: forcing exit');
        exit(1);
        return;
      }
      signalled = true;
      this.log.info({ signal, graceMs }, 'shutting down');
      const timer = setTimeout(() => {
        this.log.error({ graceMs }, 'grace period over: forcing exit');
        exit(1);
      }, graceMs);
      timer.unref();
      this.close().then(
        () => exit(0),
        () => exit(1),
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  }
}

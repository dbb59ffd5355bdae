import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export type ProxyMode = 'ok' | 'stall' | 'slow';

/**
 * A TCP proxy between workers and one API process that a nemesis can stall (hold every byte until
 * healed), slow (each chunk delayed) or reset (every connection destroyed at once).
 */
export class FaultProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private mode: ProxyMode = 'ok';
  private held: (() => void)[] = [];
  port = 0;

  constructor(private readonly targetPort: number) {}

  async start(): Promise<void> {
    this.server = createServer((client) => this.accept(client));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  set(mode: ProxyMode): void {
    this.mode = mode;
    if (mode === 'ok') {
      const held = this.held;
      this.held = [];
      for (const release of held) release();
    }
  }

  reset(): number {
    const n = this.sockets.size;
    for (const socket of this.sockets) socket.resetAndDestroy();
    this.sockets.clear();
    return n;
  }

  async stop(): Promise<void> {
    this.set('ok');
    this.reset();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }

  private accept(client: Socket): void {
    const upstream = connect(this.targetPort, '127.0.0.1');
    for (const socket of [client, upstream]) {
      this.sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        this.sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    this.pipe(client, upstream);
    this.pipe(upstream, client);
  }

  private pipe(from: Socket, to: Socket): void {
    from.on('data', (chunk) => {
      if (this.mode === 'ok') {
        to.write(chunk);
        return;
      }
      from.pause();
      const release = () => {
        if (!to.destroyed) to.write(chunk);
        if (!from.destroyed) from.resume();
      };
      if (this.mode === 'stall') this.held.push(release);
      else setTimeout(release, 150);
    });
  }
}

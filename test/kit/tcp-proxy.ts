/**
 * A TCP proxy on loopback that tests control: round-robin over one or more target ports, and
 * able to cut the link (reset open connections, refuse new ones) or drop every connection
 * periodically, as a load balancer or a broken network would.
 * @example
 * const link = await tcpProxy([vtn.port]);       // point the client at link.port
 * link.cut(); ... link.restore();                // an outage, then the link returns
 * const lb = await tcpProxy([a.port, b.port], { dropEveryMs: 700 }); // lb.served: connections per target
 */
import { createServer, connect, type Socket } from 'node:net';

export interface TcpProxy {
  port: number;
  /** Connections handed to each target, in the order of `targets`. */
  served: number[];
  /** Resets every open connection and refuses new ones until {@link restore}. */
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

export async function tcpProxy(targets: number[], opts: { dropEveryMs?: number } = {}): Promise<TcpProxy> {
  const served = targets.map(() => 0);
  const open = new Set<Socket>();
  let down = false;
  let next = 0;
  const server = createServer((client) => {
    if (down) {
      client.resetAndDestroy();
      return;
    }
    const i = next++ % targets.length;
    served[i] = (served[i] ?? 0) + 1;
    const upstream = connect(targets[i] as number, '127.0.0.1');
    for (const s of [client, upstream]) {
      open.add(s);
      s.on('close', () => open.delete(s));
      s.on('error', () => {});
    }
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const timer = opts.dropEveryMs ? setInterval(() => { for (const s of open) s.destroy(); }, opts.dropEveryMs) : undefined;
  return {
    port: (server.address() as { port: number }).port,
    served,
    cut() {
      down = true;
      for (const s of open) s.resetAndDestroy();
    },
    restore() { down = false; },
    close: () => new Promise((r) => {
      clearInterval(timer);
      for (const s of open) s.destroy();
      server.close(() => r());
    }),
  };
}

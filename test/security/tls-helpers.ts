/**
 * Helpers for the mutual-TLS tests: a real https server built with createMutualTlsServer that
 * echoes the peer identity, and a raw TLS client that reports what happened.
 */
import * as tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:https';
import { createMutualTlsServer, peerOf, type MutualTlsServer, type MutualTlsServerOptions } from '../../src/security/tls.js';

export interface RunningServer {
  port: number;
  handle: MutualTlsServer<Server>;
  /** Requests that reached the handler. */
  seen: number;
  close(): Promise<void>;
}

/** Starts an https mutual-TLS server on 127.0.0.1:0 whose handler returns peerOf(req) as JSON. */
export async function startEchoServer(opts: MutualTlsServerOptions & { kind?: 'https' }): Promise<RunningServer> {
  const state = { seen: 0 };
  const handle = createMutualTlsServer(opts, (req, res) => {
    state.seen++;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(peerOf(req) ?? null));
  });
  await new Promise<void>((resolve) => handle.server.listen(0, '127.0.0.1', resolve));
  const port = (handle.server.address() as AddressInfo).port;
  return {
    port,
    handle,
    get seen() { return state.seen; },
    close: () => new Promise<void>((resolve) => {
      handle.server.closeAllConnections();
      handle.server.close(() => resolve());
    }),
  };
}

/** What a client saw. */
export interface ClientOutcome {
  /** Handshake completed from the client's point of view. */
  connected: boolean;
  protocol?: string | null;
  cipher?: string;
  reused?: boolean;
  /** HTTP response body, when one came. */
  body?: string;
  status?: number;
  error?: string;
  errorCode?: string;
  session?: Buffer;
}

/**
 * Connects, sends one GET and waits for the connection to end (response or refusal).
 * Never rejects: failures are in the outcome.
 */
export function request(port: number, options: tls.ConnectionOptions, timeoutMs = 20_000): Promise<ClientOutcome> {
  return new Promise((resolve) => {
    const out: ClientOutcome = { connected: false };
    let data = '';
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      const m = /^HTTP\/1\.1 (\d+)[^]*?\r\n\r\n([^]*)$/.exec(data);
      if (m) {
        out.status = Number(m[1]);
        out.body = m[2];
      }
      resolve(out);
    };
    const socket = tls.connect({ host: '127.0.0.1', port, ...options }, () => {
      out.connected = true;
      out.protocol = socket.getProtocol();
      out.cipher = socket.getCipher()?.standardName;
      out.reused = socket.isSessionReused();
      socket.write('GET /whoami HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
    });
    socket.on('session', (s: Buffer) => { out.session = s; });
    socket.on('data', (c: Buffer) => { data += c.toString('utf8'); });
    socket.on('error', (e: Error & { code?: string }) => {
      out.error ??= e.message;
      out.errorCode ??= e.code;
    });
    socket.on('close', finish);
    const timer = setTimeout(() => { out.error ??= 'timeout'; socket.destroy(); }, timeoutMs);
  });
}

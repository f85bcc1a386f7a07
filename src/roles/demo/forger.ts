/**
 * The forged-command act of the demo (ERAB guideline §3.3: "the correct command from the correct
 * operator to the correct device"). One site's gateway reaches its aggregator through a TCP relay
 * (a stand-in for the network path: a router, a DNS entry). During the act the path is hijacked
 * to an attacker's VTN that holds a TLS certificate in the aggregator's name — issued by the same
 * CA, as a mis-issued or stolen credential would be — but not the aggregator's signing key. TLS
 * therefore succeeds, the gateway registers and polls, and the attacker's VTN sends it a signed
 * oadrDistributeEvent ordering its devices about. The gateway's command guard verifies the XML
 * signature against the aggregator certificate it pins and refuses the event: nothing is actuated.
 * The relay is then pointed back at the real aggregator.
 */
import { createServer, connect, type Server as NetServer, type Socket } from 'node:net';
import type { Server } from 'node:tls';
import type { AddressInfo } from 'node:net';
import type { Clock } from '../../core/clock.js';
import { epochMillis, millis } from '../../core/units.js';
import type { OadrDistributeEvent } from '../../protocols/openadr/event.js';
import { encodePayload } from '../../protocols/openadr/payload.js';
import { oadrResponse } from '../../protocols/openadr/response.js';
import { signXml, type SigningKey } from '../../protocols/openadr/signature.js';
import { MemoryAuditSink } from '../../security/audit/types.js';
import { TlsMaterial } from '../../security/tls.js';
import { createMutualTlsServer } from '../../security/tls/server.js';

/** A TCP relay on 127.0.0.1 whose target can be switched; switching cuts open connections. */
export class TcpRelay {
  private server: NetServer | undefined;
  private readonly sockets = new Set<Socket>();
  private target: number;

  constructor(target: number) {
    this.target = target;
  }

  async start(): Promise<number> {
    const server = createServer((client) => {
      const upstream = connect({ host: '127.0.0.1', port: this.target });
      this.sockets.add(client);
      this.sockets.add(upstream);
      const end = () => {
        client.destroy();
        upstream.destroy();
        this.sockets.delete(client);
        this.sockets.delete(upstream);
      };
      client.on('error', end).on('close', end);
      upstream.on('error', end).on('close', end);
      client.pipe(upstream);
      upstream.pipe(client);
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return (server.address() as AddressInfo).port;
  }

  /** New connections go to `port`; open ones are cut so the next request reconnects there. */
  redirect(port: number): void {
    this.target = port;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

export interface ForgerOptions {
  /** The aggregator the attacker impersonates. */
  aggregatorId: string;
  /** The gateway whose path is hijacked. */
  gatewayId: string;
  /** PEM certificate and key in the aggregator's name (not the aggregator's own key). */
  certPem: string;
  keyPem: string;
  caPem: string;
  clock: Clock;
}

/**
 * The attacker's endpoint: mutual TLS with the certificate in the aggregator's name, and to every
 * oadrPoll of the victim a freshly signed oadrDistributeEvent (valid XML signature, valid
 * ReplayProtect, the right venID) — signed with the attacker's key, not the aggregator's.
 */
export class ForgerVtn {
  readonly audit = new MemoryAuditSink();
  private server: Server | undefined;
  /** Forged distributes sent, and what the gateway answered (oadrCreatedEvent bodies seen). */
  forgedSent = 0;
  readonly answers: string[] = [];

  constructor(private readonly o: ForgerOptions) {}

  async start(): Promise<number> {
    const material = await TlsMaterial.fromPem({ credentials: [{ certPem: this.o.certPem, keyPem: this.o.keyPem }], caPem: this.o.caPem });
    const key: SigningKey = { privateKeyPem: this.o.keyPem, certificatePem: this.o.certPem };
    const { server } = createMutualTlsServer({
      material, profile: 'R4', allowList: { participants: [`gateway:${this.o.gatewayId}`] }, audit: this.audit, listener: 'demo:forger',
    }, (req, res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size <= 1024 * 1024) chunks.push(c);
      });
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        let reply: string;
        if (body.includes('oadrPoll')) {
          reply = signXml(encodePayload(this.forgedDistribute()), key, { clock: this.o.clock });
          this.forgedSent++;
        } else {
          // Anything else (reports, the answer to the forged event) gets a plain acknowledgement,
          // so the victim's VEN carries on to its next poll.
          if (body.includes('oadrCreatedEvent')) this.answers.push(body);
          reply = encodePayload(oadrResponse(200, '', this.o.gatewayId));
        }
        res.writeHead(200, { 'content-type': 'application/xml' });
        res.end(reply);
      });
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return (server.address() as AddressInfo).port;
  }

  /** The forged order: every resource of the site to discharge flat out for 30 minutes. */
  private forgedDistribute(): OadrDistributeEvent {
    const now = this.o.clock.now();
    return {
      type: 'oadrDistributeEvent',
      requestID: `forged-${this.forgedSent}`,
      vtnID: `${this.o.aggregatorId}-vtn`,
      events: [{
        descriptor: {
          eventID: `FORGED-${this.o.gatewayId}`, modificationNumber: 0, marketContext: `urn:erab:aggregator:${this.o.aggregatorId}:forged`,
          createdDateTime: epochMillis(now), eventStatus: 'far',
        },
        activePeriod: { dtstart: epochMillis(Math.ceil(now / 60_000) * 60_000 + 60_000), duration: millis(30 * 60_000) },
        signals: [{
          signalName: 'LOAD_DISPATCH', signalType: 'delta', signalID: 'S0',
          itemBase: { kind: 'powerReal', itemDescription: 'RealPower', itemUnits: 'W', siScaleCode: 'k', powerAttributes: { hertz: 50, voltage: 100, ac: true } },
          intervals: [{ duration: millis(30 * 60_000), uid: '0', value: -50 }],
        }],
        target: { venID: [this.o.gatewayId] },
        responseRequired: 'always',
      }],
    };
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    await new Promise<void>((resolve) => {
      (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
      server.close(() => resolve());
    });
  }
}

/**
 * UDP transport for ECHONET Lite (Part 2 and Part 4, "ECHONET Lite
 * communication over UDP/IP": UDP port 3610, IPv4 multicast group 224.0.23.0).
 * One unicast socket bound to a chosen address (so many nodes can share a host on distinct
 * 127.0.0.x addresses), plus an optional second socket bound to the multicast group that
 * receives group traffic without taking the unicast address.
 */
import dgram from 'node:dgram';
import { InvalidInputError } from '../../core/errors.js';

/** The ECHONET Lite UDP port. */
export const ECHONET_PORT = 3610;
/** The ECHONET Lite IPv4 multicast group. */
export const ECHONET_MULTICAST_GROUP = '224.0.23.0';

export interface MulticastOptions {
  /** Group address (default 224.0.23.0). */
  group?: string;
  /** Address of the interface to join and send on (default: the bound address). */
  interfaceAddress?: string;
}

export interface UdpEndpointOptions {
  /** Unicast address to bind, e.g. "127.0.0.2". */
  address: string;
  /** Port to bind: 3610 by default, 0 for an ephemeral port. */
  port?: number;
  /** Also receive multicast to the group (needs a route for 224.0.0.0/4, e.g. in a namespace). */
  multicast?: MulticastOptions | false | undefined;
  /** SO_REUSEADDR on the unicast socket, to coexist with a stack bound to 0.0.0.0:3610. */
  reuseAddr?: boolean;
}

/** False for sources no reply may go to: unspecified, multicast (224/4), limited broadcast. */
export function usableSource(address: string): boolean {
  if (address === '0.0.0.0' || address === '255.255.255.255' || address === '::') return false;
  const first = Number(address.split('.')[0]);
  return !(first >= 224 && first <= 239);
}

export type DatagramHandler = (msg: Buffer, from: { address: string; port: number }) => void;

/** A bound unicast socket (+ optional multicast receiver). Send never throws. */
export class UdpEndpoint {
  private constructor(
    private readonly unicast: dgram.Socket,
    private readonly group: dgram.Socket | undefined,
    readonly address: string,
    readonly port: number,
    readonly multicastGroup: string | undefined,
  ) {}

  /** Binds; rejects with an InvalidInputError naming the address if the bind fails. */
  static async open(options: UdpEndpointOptions, onMessage: DatagramHandler, onError: (err: Error) => void): Promise<UdpEndpoint> {
    const port = options.port ?? ECHONET_PORT;
    const unicast = dgram.createSocket({ type: 'udp4', reuseAddr: options.reuseAddr ?? false });
    unicast.on('message', (msg, rinfo) => onMessage(msg, { address: rinfo.address, port: rinfo.port }));
    await bind(unicast, options.address, port);
    unicast.on('error', onError);
    const bound = unicast.address();
    let group: dgram.Socket | undefined;
    let groupAddress: string | undefined;
    if (options.multicast) {
      groupAddress = options.multicast.group ?? ECHONET_MULTICAST_GROUP;
      const iface = options.multicast.interfaceAddress ?? options.address;
      try {
        unicast.setMulticastInterface(iface);
        unicast.setMulticastTTL(1);
        unicast.setMulticastLoopback(true);
        group = dgram.createSocket({ type: 'udp4', reuseAddr: true });
        group.on('message', (msg, rinfo) => onMessage(msg, { address: rinfo.address, port: rinfo.port }));
        await bind(group, groupAddress, bound.port);
        group.addMembership(groupAddress, iface);
        group.on('error', onError);
      } catch (err) {
        unicast.close();
        group?.close();
        throw new InvalidInputError(`cannot join multicast ${groupAddress} on ${iface}: ${(err as Error).message}`, { cause: err });
      }
    }
    return new UdpEndpoint(unicast, group, bound.address, bound.port, groupAddress);
  }

  /** Sends a datagram; resolves false instead of throwing when the send fails. */
  send(buf: Uint8Array, port: number, address: string): Promise<boolean> {
    return new Promise((resolve) => {
      try {
        this.unicast.send(buf, port, address, (err) => resolve(!err));
      } catch {
        resolve(false);
      }
    });
  }

  async close(): Promise<void> {
    await Promise.all([closeSocket(this.unicast), this.group ? closeSocket(this.group) : Promise.resolve()]);
  }
}

function bind(sock: dgram.Socket, address: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onErr = (err: Error): void => {
      sock.close();
      reject(new InvalidInputError(`cannot bind UDP ${address}:${port}: ${err.message}`, { cause: err }));
    };
    sock.once('error', onErr);
    sock.bind({ address, port, exclusive: true }, () => {
      sock.off('error', onErr);
      resolve();
    });
  });
}

function closeSocket(sock: dgram.Socket): Promise<void> {
  return new Promise((resolve) => {
    try {
      sock.close(() => resolve());
    } catch {
      resolve();
    }
  });
}

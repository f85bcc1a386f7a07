/**
 * The shared test kit: one PKI world builder, one local gateway configuration, one waitFor, one set of clocks, one TCP proxy, one
 * Prometheus exposition reader, free loopback ports and erab child processes, one small VPP (home-vpp.ts). Import from here.
 *
 * @example
 * import { pkiWorld, waitFor, acceleratedClock } from '../kit/index.js';
 * const world = await pkiWorld({ vtn: 'tso:TSO1', ven: 'aggregator:AGG1' });
 * after(() => world.close());
 * await waitFor(() => vtn.registration('AGG1'), { what: 'AGG1 registered' });
 */
export * from './pki.js';
export * from './wait.js';
export * from './clock.js';
export * from './tcp-proxy.js';
export * from './metrics.js';
export * from './net.js';
export * from './gateway.js';
export * from './home-vpp.js';
export * from './erab-processes.js';
export * from './browser.js';

/**
 * ECHONET Lite (ECHONET Lite Specification Ver.1.14; APPENDIX Detailed Requirements for ECHONET
 * Device Objects, Release R) for erab: a pure codec, typed device objects, a UDP node runtime
 * and a controller. Usable as a library on its own; no storage, no business rules.
 *
 * Codec (pure): `decodeFrame` (throws FrameError naming the byte), `safeDecodeFrame` (never
 * throws; the entry point for datagrams), `encodeFrame`, `encodePropertyMap`/`decodePropertyMap`.
 *
 * Typed objects: `StorageBattery`, `HouseholdSolarPower`, `EvChargerDischarger`, `EvCharger`,
 * `ElectricWaterHeater`, `LowVoltageSmartMeter`, `AirConditioner`, `HemsController`,
 * `NodeProfile`: each `props.<name>` has `epc`, `access`, `required` and a `codec` with
 * `encode`/`decode` in erab units (Watts, WattHours), refusing out-of-range values;
 * `classDefinition(0x027D)` looks a class up; `meterReadingToWattHours` converts 0xE0/0xE3.
 *
 * Controller (what the gateway runs):
 * @example
 * const c = await EchonetController.start({ address: '127.0.0.1', audit });
 * c.on('inf', (e) => ...);                 // every INF/INFC, with source address and SEOJ
 * c.on('node', (n) => ...);                // newly identified node (discovery or passive)
 * c.on('identityChanged', (e) => ...);     // maker/product/serial changed at an address
 * const nodes = await c.discover({ addresses: ['127.0.0.2'], multicast: false });
 * const [soc] = await c.getProperties('127.0.0.2', eoj(0x027d, 1), [0xE4]);
 * StorageBattery.props.remainingCapacityPercent.codec.decode(soc.edt);
 * await c.setProperties('127.0.0.2', eoj(0x027d, 1),
 *   [{ epc: 0xDA, edt: StorageBattery.props.operationMode.codec.encode('charging') }]);
 *
 * Node (what a device runs): `EchonetNode.start({ address, objects: [new EchonetObject(...)], identity })`.
 */
export * from './eoj.js';
export * from './esv.js';
export * from './errors.js';
export * from './frame.js';
export * from './property-map.js';
export * from './datatypes.js';
export * from './object.js';
export * from './objects/index.js';
export * from './node.js';
export * from './controller.js';
export { SecurityEventReporter, type RefusalKind } from './security-events.js';
export { ECHONET_PORT, ECHONET_MULTICAST_GROUP, type MulticastOptions } from './transport.js';
export { ObjectHost, type ServeResult } from './object-host.js';

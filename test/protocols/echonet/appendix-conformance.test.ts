/**
 * Conformance of every implemented class to the Appendix tables generated from the Machine
 * Readable Appendix (src/protocols/echonet/objects/appendix-tables.ts): the class definitions
 * (mandatory presence, access rules, sizes) and the simulated devices as a controller sees them
 * over real UDP on loopback (every readable value in size and range, maps complete, maps of 16
 * or more properties in bitmap form). Addresses 127.17.1.x.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KNOWN_CLASSES, appendixClass, appendixProperty, appendixViolation, type ClassDef } from '../../../src/protocols/echonet/objects/index.js';
import { DeviceSite } from '../../../src/roles/device/site.js';
import { EchonetController } from '../../../src/protocols/echonet/controller.js';
import { eojClass as classOf, formatEoj } from '../../../src/protocols/echonet/eoj.js';
import { decodePropertyMap } from '../../../src/protocols/echonet/property-map.js';

const hex = (n: number): string => `0x${n.toString(16).toUpperCase().padStart(2, '0')}`;

/** Classes erab implements that the MRA at hand does not describe (none may be missing silently). */
const NOT_IN_MRA = new Set<number>([]);

function definitionProblems(cls: ClassDef): string[] {
  const out: string[] = [];
  const table = appendixClass(cls.classCode);
  if (!table) return NOT_IN_MRA.has(cls.classCode) ? [] : [`${cls.name}: no Appendix table for class ${hex(cls.classCode)}`];
  for (const a of table.props) {
    if (!a.mandatory) continue;
    const d = cls.byEpc.get(a.epc);
    if (!d) {
      out.push(`${cls.name}: mandatory ${hex(a.epc)} (${a.ja}) missing`);
      continue;
    }
    if (!d.required) out.push(`${cls.name}: ${hex(a.epc)} is mandatory but not marked required`);
    if (a.get === 'required' && !d.access.get) out.push(`${cls.name}: ${hex(a.epc)} Get is required`);
    if (a.set === 'required' && !d.access.set) out.push(`${cls.name}: ${hex(a.epc)} Set is required`);
    if (a.anno === 'required' && !d.access.anno) out.push(`${cls.name}: ${hex(a.epc)} announcement is required`);
  }
  for (const d of cls.byEpc.values()) {
    const a = appendixProperty(cls.classCode, d.epc);
    if (!a) {
      out.push(`${cls.name}: ${hex(d.epc)} (${d.name}) is not in the Appendix table`);
      continue;
    }
    if (d.access.get && a.get === 'notApplicable') out.push(`${cls.name}: ${hex(d.epc)} declares Get, the Appendix has none`);
    if (d.access.set && a.set === 'notApplicable') out.push(`${cls.name}: ${hex(d.epc)} declares Set, the Appendix has none`);
    if (d.access.anno && a.anno === 'notApplicable') out.push(`${cls.name}: ${hex(d.epc)} declares announcement, the Appendix has none`);
    const lengths = d.codec.size.only ?? Array.from({ length: Math.min(d.codec.size.max, 260) - d.codec.size.min + 1 }, (_, i) => d.codec.size.min + i);
    for (const n of lengths) {
      if (!a.forms.some((f) => n >= f.size[0] && n <= f.size[1])) {
        out.push(`${cls.name}: ${hex(d.epc)} (${d.name}) codec accepts ${n} byte(s), the Appendix does not`);
        break;
      }
    }
  }
  return out;
}

test('every implemented class definition conforms to the generated Appendix table', () => {
  const problems = KNOWN_CLASSES.flatMap(definitionProblems);
  assert.deepEqual(problems, []);
});

test('installation location 0x81 is valid at 1 or 17 bytes only', () => {
  for (const cls of KNOWN_CLASSES) {
    const d = cls.byEpc.get(0x81);
    if (!d) continue;
    assert.throws(() => d.codec.decode(new Uint8Array(2)), /2 byte/, `${cls.name}: 2 bytes`);
    assert.throws(() => d.codec.decode(new Uint8Array(16)), /16 byte/, `${cls.name}: 16 bytes`);
    assert.doesNotThrow(() => d.codec.decode(Uint8Array.of(0x08)));
    assert.doesNotThrow(() => d.codec.decode(new Uint8Array(17)));
  }
});

test('simulated devices over UDP: every readable value, map and mandatory property conforms', async () => {
  const controller = await EchonetController.start({ address: '127.17.1.1', timeoutMs: 3000 });
  const site = await DeviceSite.start({
    address: '127.17.1.2', startTime: Date.UTC(2026, 5, 21, 3, 5), peers: [{ address: '127.17.1.1' }],
    battery: {}, pv: {}, ev: {}, waterHeater: {}, aircon: {}, lighting: {}, fuelCell: {}, pcs: {}, meter: {},
  }, { realtime: false });
  try {
    const [node] = await controller.discover({ addresses: ['127.17.1.2'] });
    assert.ok(node);
    // Every simulated class is walked: the Release R classes (multi-input PCS) and the B-route meter among them.
    assert.deepEqual(node.instances.map((x) => classOf(x)).sort((a, b) => a - b), [0x0130, 0x026b, 0x0279, 0x027c, 0x027d, 0x027e, 0x0288, 0x0290, 0x02a5]);
    const problems: string[] = [];
    let bitmaps = 0;
    for (const deoj of node.instances) {
      const code = classOf(deoj);
      const table = appendixClass(code);
      assert.ok(table, `class of ${formatEoj(deoj)} has a table`);
      const [anno, set, get] = await controller.getProperties('127.17.1.2', deoj, [0x9d, 0x9e, 0x9f]);
      const maps = { anno: decodePropertyMap(anno!.edt), set: decodePropertyMap(set!.edt), get: decodePropertyMap(get!.edt) };
      for (const [which, r] of [['0x9D', anno!], ['0x9E', set!], ['0x9F', get!]] as const) {
        const n = r.edt[0]!;
        if (n >= 16) {
          bitmaps++;
          if (r.edt.length !== 17) problems.push(`${formatEoj(deoj)} ${which}: ${n} properties not in bitmap form`);
        }
      }
      for (const a of table.props) {
        if (a.get === 'required' && !maps.get.includes(a.epc)) problems.push(`${formatEoj(deoj)}: mandatory Get ${hex(a.epc)} not in 0x9F`);
        if (a.set === 'required' && !maps.set.includes(a.epc)) problems.push(`${formatEoj(deoj)}: mandatory Set ${hex(a.epc)} not in 0x9E`);
        if (a.anno === 'required' && !maps.anno.includes(a.epc)) problems.push(`${formatEoj(deoj)}: mandatory announcement ${hex(a.epc)} not in 0x9D`);
      }
      for (const epc of maps.get) {
        const a = appendixProperty(code, epc);
        if (!a) continue; // maker-specific
        const [r] = await controller.getProperties('127.17.1.2', deoj, [epc]);
        if (!r!.ok) problems.push(`${formatEoj(deoj)}: Get ${hex(epc)} refused`);
        const why = appendixViolation(a, r!.edt);
        if (why) problems.push(`${formatEoj(deoj)}: ${hex(epc)} (${a.ja}) ${why}`);
      }
    }
    assert.deepEqual(problems, []);
    assert.ok(bitmaps > 0, 'at least one Get map of 16 or more properties was exercised in bitmap form');
  } finally {
    await site.close();
    await controller.close();
  }
});

test('a Set outside the Appendix table is refused over UDP and never applied (0x81 at 2 bytes)', async () => {
  const controller = await EchonetController.start({ address: '127.17.1.3', timeoutMs: 3000 });
  const site = await DeviceSite.start({ address: '127.17.1.4', peers: [{ address: '127.17.1.3' }], battery: {} }, { realtime: false });
  try {
    const [node] = await controller.discover({ addresses: ['127.17.1.4'] });
    const bat = node!.instances.find((x) => classOf(x) === 0x027d)!;
    const [bad] = await controller.setProperties('127.17.1.4', bat, [{ epc: 0x81, edt: Uint8Array.of(0x08, 0x01) }]);
    assert.equal(bad!.ok, false);
    const [good] = await controller.setProperties('127.17.1.4', bat, [{ epc: 0x81, edt: Uint8Array.of(0x08) }]);
    assert.equal(good!.ok, true);
    const [r] = await controller.getProperties('127.17.1.4', bat, [0x81]);
    assert.deepEqual([...r!.edt], [0x08]);
  } finally {
    await site.close();
    await controller.close();
  }
});

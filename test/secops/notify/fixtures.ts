/** Shared data of the notification tests. */
import { createServer } from 'node:net';
import type { NoticeInput } from '../../../src/secops/notify/index.js';

/** A vulnerability notice as a finding would produce it. */
export const advisory: NoticeInput = {
  template: 'vulnerability',
  subject: 'JVNDB-2026-000123',
  data: {
    advisoryId: 'JVNDB-2026-000123',
    title: 'Battery controller firmware accepts unauthenticated commands',
    affectedProducts: ['Example Denki EB-100 firmware < 2.4.1'],
    affectedSites: ['S1', 'S2'],
    cvss: { score: 9.8, vector: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' },
    countermeasure: 'Update the firmware to 2.4.1 or later; until then block port 3610 from outside the site.',
    deadline: Date.UTC(2026, 11, 31, 15, 0),
  },
};

/** A free loopback port nothing listens on (yet). */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/**
 * What each `<!-- guide:wait NAME -->` step of docs/production.md waits for, judged from the
 * command's table (`out`) and its `--json` reply: one set of conditions for every test that runs
 * the guide (on one machine: production-guide.test.ts; in containers: compose.test.ts).
 */
import assert from 'node:assert/strict';

/** A wait's condition: true once the guide's command shows what the step waits for. */
export type GuideWait = (out: string, json: () => Promise<any>) => Promise<boolean>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** What the waits learn and need on the way: gw2's pending devices, the fleet command's id. */
export interface GuideProgress {
  readonly pendingGw2: Map<string, number>;
  commandId(): string;
}

export function guideWaits(progress: GuideProgress): Record<string, GuideWait> {
  const { pendingGw2 } = progress;
  return {
    'gw2-pending': async (out, json) => {
      if (!/GW2/.test(out)) return false;
      const page = await json() as { items: { id: string; gateway: string; admission: string; admissionRevision: number | null }[] };
      if (page.items.length < 2) return false;
      for (const d of page.items) {
        assert.equal(d.gateway, 'GW2', 'the list is filtered by gateway');
        assert.equal(d.admission, 'pending', 'gw2 has no allow-list: its devices wait for an operator');
        assert.ok(Number.isInteger(d.admissionRevision) && d.admissionRevision! >= 1, `${d.id}: revision ${d.admissionRevision}`);
        pendingGw2.set(d.id, d.admissionRevision!);
      }
      return true;
    },
    'gw2-admitted': async (_out, json) => {
      const page = await json() as { items: { id: string; admission: string }[] };
      return page.items.length >= 2 && page.items.every((d) => d.admission === 'admitted') && [...pendingGw2.keys()].every((id) => page.items.some((d) => d.id === id));
    },
    'aggregator-online': async (out, json) => {
      if (!/GW1/.test(out) || !/GW2/.test(out)) return false;
      const s = await json();
      const gws = new Map<string, number>(s.gateways.map((g: { venId: string; resources: number }) => [g.venId, g.resources]));
      return (gws.get('GW1') ?? 0) > 0 && (gws.get('GW2') ?? 0) > 0 && s.resources.total >= 4 && s.resources.online === s.resources.total;
    },
    'tso-registered': async (out, json) => /registered aggregators: AGG1/.test(out) && ((await json()) as { registered: string[] }).registered.includes('AGG1'),
    delivered: async (_out, json) => {
      const s = await json();
      const e = s.events.find((x: { key: string }) => x.key === `operator/${progress.commandId()}`);
      return e !== undefined && e.deliveredW !== null && e.deliveredW >= 0.9 * e.targetW;
    },
    'tso-event-at-aggregator': async (_out, json) => {
      const s = await json();
      return s.upstream.some((u: { name: string; events: { optType: string }[] }) => u.name === 'tso-tokyo' && u.events.some((e) => e.optType === 'optIn'));
    },
  };
}

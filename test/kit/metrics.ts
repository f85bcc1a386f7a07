/**
 * Reading a role's /metrics in tests with the Prometheus project's own text-format parser (its
 * Python client, Debian's python3-prometheus-client), so the exposition is checked by the
 * reference implementation rather than by our own reading. `.ci/run` installs it; without it the
 * metric tests skip locally and fail under CI=true.
 */
import { spawnSync } from 'node:child_process';

const PYTHON = '/usr/bin/python3';
const PARSER = `
import json, math, sys
from prometheus_client.parser import text_string_to_metric_families
out = [{"name": f.name, "type": f.type, "samples": [{"name": s.name, "labels": s.labels, "value": s.value if math.isfinite(s.value) else str(s.value)} for s in f.samples]}
       for f in text_string_to_metric_families(sys.stdin.read())]
print(json.dumps(out))
`;

/** False when the parser is there, else why not (a test's `skip`). Throws under CI=true. */
export const metricsParserMissing: false | string = (() => {
  const missing = spawnSync(PYTHON, ['-c', 'import prometheus_client']).status === 0 ? false
    : 'the Prometheus text parser is missing (apt-get install python3-prometheus-client)';
  if (missing && process.env.CI === 'true') throw new Error(`${missing}; .ci/run installs it`);
  return missing;
})();

/** One sample; non-finite values (NaN, ±Inf) arrive as strings. */
export interface MetricSample { name: string; labels: Record<string, string>; value: number }
export interface MetricFamily { name: string; type: string; samples: MetricSample[] }

/** Parses Prometheus text exposition format; throws with the parser's complaint when it refuses it. */
export function parseMetrics(text: string): MetricFamily[] {
  const parsed = spawnSync(PYTHON, ['-c', PARSER], { input: text, encoding: 'utf8' });
  if (parsed.status !== 0) throw new Error(`prometheus_client refused the exposition: ${parsed.stderr.slice(-2000)}`);
  return JSON.parse(parsed.stdout) as MetricFamily[];
}

/**
 * The first sample named `name` whose labels include `labels`.
 * @example metricSample(families, 'erab_refusals_total', { action: 'tls.refused' })?.value
 */
export function metricSample(families: MetricFamily[], name: string, labels: Record<string, string> = {}): MetricSample | undefined {
  return families.flatMap((f) => f.samples).find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

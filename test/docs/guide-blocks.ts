/**
 * Reads the steps of a guide in docs/: each fenced block preceded by a `<!-- guide:<kind> [arg] -->`
 * comment. Kinds: `file <path>` (the block is that file's content), `run` (shell commands run once,
 * in order), `service <name>` (one long-running command), `wait <name>` (a command repeated until
 * the test's condition of that name holds).
 */
export interface GuideStep {
  kind: 'file' | 'run' | 'service' | 'wait';
  arg: string;
  body: string;
  /** 1-based line of the block's opening fence, for messages. */
  line: number;
}

/**
 * The marked steps of `markdown`, in order.
 * @example guideSteps('<!-- guide:run -->\n```sh\nerab pki list\n```\n') // [{ kind: 'run', arg: '', body: 'erab pki list\n', line: 2 }]
 */
export function guideSteps(markdown: string): GuideStep[] {
  const lines = markdown.split('\n');
  const steps: GuideStep[] = [];
  for (let i = 0; i < lines.length; i++) {
    const m = /^<!-- guide:(file|run|service|wait)(?: (\S+))? -->$/.exec(lines[i]!.trim());
    if (!m) continue;
    const fence = i + 1;
    if (!/^```\w*$/.test(lines[fence] ?? '')) throw new Error(`guide line ${i + 1}: the marker must be followed by a fenced block`);
    let end = fence + 1;
    while (end < lines.length && lines[end] !== '```') end++;
    if (end >= lines.length) throw new Error(`guide line ${fence + 1}: unclosed fenced block`);
    steps.push({ kind: m[1] as GuideStep['kind'], arg: m[2] ?? '', body: `${lines.slice(fence + 1, end).join('\n')}\n`, line: fence + 1 });
    i = end;
  }
  return steps;
}

/**
 * Progress for long operations: a single rewritten line on a TTY, nothing in a pipe
 * (scripts parse our stdout; progress goes to stderr and only when a human is watching).
 */
export interface Progress {
  update(done: number, total: number, label?: string): void;
  done(message?: string): void;
}

export function createProgress(title: string, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (!stream.isTTY) return { update() {}, done() {} };
  let last = 0;
  return {
    update(done, total, label) {
      const now = Date.now();
      if (now - last < 80 && done < total) return;
      last = now;
      const pct = total > 0 ? Math.floor((done / total) * 100) : 0;
      const width = 24;
      const filled = Math.round((pct / 100) * width);
      stream.write(`\r${title} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${pct}% ${done}/${total}${label ? ` ${label}` : ''}\x1b[K`);
    },
    done(message) {
      stream.write(`\r${title} ${message ?? 'done'}\x1b[K\n`);
    },
  };
}

/** CPU time of another process, for benches that count a VTN's workers as well as its primary. */
import { readFileSync } from 'node:fs';

/** Reads a process's CPU time (user + system) in µs from Linux /proc; 0 where it cannot. */
export function cpuOf(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return ((Number(f[11]) + Number(f[12])) * 1e6) / 100; // utime + stime in clock ticks (100 Hz)
  } catch {
    return 0;
  }
}

/**
 * CPU accounting from /proc, so every measurement says how much of the machine something else
 * used meanwhile (other processes on the same cores make a benchmark on 2 cores meaningless).
 */
import { readFileSync } from 'node:fs';

/** Pids of the bench's own processes besides this one (child servers register here). */
export const benchPids = new Set<number>();

const TICK = 100; // USER_HZ on Linux

/** CPU time (user + system) a process has used so far, seconds; 0 once it is gone. */
export function procCpuS(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12])) / TICK;
  } catch {
    return 0;
  }
}

export interface CpuSnapshot {
  at: number;
  busyS: number;
  stealS: number;
  mineS: number;
}

export function cpuSnapshot(): CpuSnapshot {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = line;
  let mine = procCpuS(process.pid);
  for (const pid of benchPids) mine += procCpuS(pid);
  return { at: Date.now(), busyS: (user + nice + system + irq + softirq) / TICK, stealS: steal / TICK, mineS: mine };
}

export interface CpuUse {
  /** Cores used by processes outside the bench, on average over the interval. */
  otherCores: number;
  /** Cores used by the bench's own processes. */
  benchCores: number;
  /** Cores the hypervisor withheld (steal). */
  stealCores: number;
}

export function cpuBetween(a: CpuSnapshot, b: CpuSnapshot): CpuUse {
  const s = Math.max(0.001, (b.at - a.at) / 1000);
  const r = (x: number) => Math.round(x * 100) / 100;
  const mine = b.mineS - a.mineS;
  return { otherCores: r(Math.max(0, b.busyS - a.busyS - mine) / s), benchCores: r(mine / s), stealCores: r((b.stealS - a.stealS) / s) };
}

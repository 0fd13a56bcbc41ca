import { readdirSync, readFileSync } from "node:fs";

/**
 * How much of the machine other processes used while a module ran: all CPU time the kernel counts
 * (/proc/stat) minus this process's, its finished children's and its live children's (DynamoDB
 * Local's JVM, cold-start processes). On a shared machine this says how far to trust a module's
 * wall-clock figures. Linux only; elsewhere it reports nothing.
 */
export interface CpuSnapshot {
  busyTicks: number;
  ownTicks: number;
  atMs: number;
}

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

export function cpuSnapshot(): CpuSnapshot | undefined {
  try {
    const fields = readFileSync("/proc/stat", "utf8")
      .split("\n")[0]!
      .trim()
      .split(/\s+/)
      .slice(1)
      .map(Number);
    const [user, nice, system, idle, iowait, irq, softirq, steal] = fields as number[];
    const busyTicks = user! + nice! + system! + irq! + softirq! + (steal ?? 0);
    void idle;
    void iowait;
    return { busyTicks, ownTicks: ownTicks(), atMs: performance.now() };
  } catch {
    return undefined;
  }
}

/** utime + stime (+ cutime + cstime) of a /proc/<pid>/stat line; fields counted after the command's closing parenthesis. */
function ticksOf(stat: string, withChildren: boolean): number {
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // rest[0] is field 3 (state): utime is field 14, stime 15, cutime 16, cstime 17.
  const at = (field: number) => Number(rest[field - 3]);
  return at(14) + at(15) + (withChildren ? at(16) + at(17) : 0);
}

function ownTicks(): number {
  let total = ticksOf(readFileSync("/proc/self/stat", "utf8"), true);
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === process.pid) total += ticksOf(stat, true);
    } catch {
      // the process ended meanwhile
    }
  }
  return total;
}

/** Average number of cores other processes kept busy between two snapshots. */
export function otherCoresBusy(
  from: CpuSnapshot | undefined,
  to: CpuSnapshot | undefined,
): number | undefined {
  if (!from || !to || to.atMs <= from.atMs) return undefined;
  const seconds = (to.atMs - from.atMs) / 1000;
  const others = to.busyTicks - from.busyTicks - (to.ownTicks - from.ownTicks);
  return Math.max(0, others / TICKS_PER_SECOND / seconds);
}

/**
 * CPU time of processes, from /proc (Linux), at clock-tick resolution
 * (usually 10 ms), the same way in every benchmark.
 */
import { execFileSync } from 'node:child_process';
import { readFile, readdir } from 'node:fs/promises';

let ticksPerSecond = 0;

/** @returns {number} clock ticks per second of /proc's CPU times */
export function clockTicks() {
  if (ticksPerSecond > 0) return ticksPerSecond;
  try {
    const ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    ticksPerSecond = Number.isInteger(ticks) && ticks > 0 ? ticks : 100;
  } catch {
    ticksPerSecond = 100;
  }
  return ticksPerSecond;
}

/**
 * CPU time of a process so far, µs: in all (its own, that of the children
 * it has waited for, and that of its children alive now: a primary's
 * workers), and its own alone. From /proc (Linux), at clock-tick resolution
 * (usually 10 ms).
 * @param {number} pid
 * @returns {Promise<{ totalUs: number, ownUs: number }>}
 */
export async function treeCpu(pid) {
  /** @param {string} id */
  const stat = async (id) => {
    try {
      const text = await readFile(`/proc/${id}/stat`, 'utf8');
      // The fields after the command name (which may hold spaces), from field 3 (state) on.
      const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
      return {
        ppid: Number(fields[1]),
        own: Number(fields[11]) + Number(fields[12]),
        children: Number(fields[13]) + Number(fields[14]),
      };
    } catch {
      return undefined; // gone meanwhile
    }
  };
  const main = await stat(String(pid));
  if (!main) throw new Error(`the server process ${pid} is not running`);
  let ticks = main.own + main.children;
  const pids = (await readdir('/proc')).filter((name) => /^\d+$/.test(name) && name !== String(pid));
  for (const s of await Promise.all(pids.map(stat))) {
    if (s && s.ppid === pid) ticks += s.own + s.children;
  }
  const us = (/** @type {number} */ t) => (t / clockTicks()) * 1e6;
  return { totalUs: us(ticks), ownUs: us(main.own) };
}

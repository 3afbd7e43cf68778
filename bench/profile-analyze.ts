/**
 * Reads a V8 .cpuprofile (node --cpu-prof) and aggregates self time by function+url and by file,
 * optionally only inside a time window (µs on the profile's clock, CLOCK_MONOTONIC like
 * process.hrtime, so the parent can pass the window in which it generated load).
 *
 *   npx tsx bench/profile-analyze.ts bench/results/submit-gateway.cpuprofile [top]
 *   npx tsx bench/profile-analyze.ts <file> --callers '^randomFillSync$'   (who causes a frame's self time)
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { relative } from 'node:path';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface Row {
  name: string;
  selfMs: number;
  /** Share of the busy (non-idle) time in the window. */
  pct: number;
}

export interface ProfileSummary {
  file: string;
  windowMs: number;
  busyMs: number;
  idleMs: number;
  samples: number;
  topFunctions: Row[];
  topFiles: Row[];
  byArea: Row[];
  /** Inclusive (self + callees, synchronous part) time of the project's own functions. */
  topOwnInclusive: Row[];
}

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** A short, readable location: project-relative path, node_modules/<pkg>/…, or node:internal. */
export function shortUrl(url: string): string {
  if (!url) return '(native/vm)';
  let u = url.startsWith('file://') ? fileURLToPath(url) : url;
  if (u.startsWith('/')) {
    u = relative(ROOT, u);
    const nm = u.lastIndexOf('node_modules/');
    if (nm >= 0) u = u.slice(nm);
  }
  return u;
}

/** Which part of the system a frame belongs to (package, project folder, node internals). */
export function areaOf(url: string, functionName: string): string {
  if (!url) {
    if (functionName.startsWith('(')) return functionName; // (garbage collector), (program), (idle)
    return '(native/vm)';
  }
  const u = shortUrl(url);
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(u);
  if (nm) return `npm:${nm[1]}`;
  if (u.startsWith('node:')) return u.split('/').slice(0, 2).join('/').replace(/^node:internal\/.*/, 'node:internal');
  const own = /^(src\/[^/]+|providers\/[^/]+|bench)/.exec(u);
  return own ? own[1]! : u;
}

function top(map: Map<string, number>, busyMs: number, n: number): Row[] {
  return [...map.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([name, ms]) => ({ name, selfMs: Math.round(ms * 10) / 10, pct: Math.round((ms / busyMs) * 1000) / 10 }));
}

export function analyzeProfile(file: string, opts: { fromUs?: number; toUs?: number; top?: number } = {}): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const n = opts.top ?? 10;
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const c of node.children ?? []) parent.set(c, node.id);
  }
  // Self time per node from the sample stream (each delta is the time until the next sample).
  const selfUs = new Map<number, number>();
  let t = profile.startTime;
  let samples = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i] ?? 0;
    const dt = profile.timeDeltas[i + 1] ?? 0;
    if (opts.fromUs !== undefined && t < opts.fromUs) continue;
    if (opts.toUs !== undefined && t > opts.toUs) continue;
    const id = profile.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + dt);
    samples++;
  }
  const fns = new Map<string, number>();
  const files = new Map<string, number>();
  const areas = new Map<string, number>();
  const ownIncl = new Map<string, number>();
  let idleMs = 0;
  let totalMs = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id)!;
    const { functionName, url, lineNumber } = node.callFrame;
    const ms = us / 1000;
    totalMs += ms;
    if (functionName === '(idle)') {
      idleMs += ms;
      continue;
    }
    // tsx emits each transformed module on one line: a line number there says nothing.
    const where = url ? (lineNumber > 0 ? `${shortUrl(url)}:${lineNumber + 1}` : shortUrl(url)) : '(native/vm)';
    const fn = `${functionName || '(anonymous)'}  ${where}`;
    fns.set(fn, (fns.get(fn) ?? 0) + ms);
    const f = url ? shortUrl(url) : functionName.startsWith('(') ? functionName : '(native/vm)';
    files.set(f, (files.get(f) ?? 0) + ms);
    const a = areaOf(url, functionName);
    areas.set(a, (areas.get(a) ?? 0) + ms);
    // Inclusive time of own (src/, providers/) functions: walk up the stack, count each once.
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const cf = byId.get(cur)!.callFrame;
      const su = cf.url ? shortUrl(cf.url) : '';
      if (!/^(src|providers)\//.test(su)) continue;
      const key = `${cf.functionName || '(anonymous)'}  ${su}${cf.lineNumber > 0 ? `:${cf.lineNumber + 1}` : ''}`;
      if (seen.has(key)) continue;
      seen.add(key);
      ownIncl.set(key, (ownIncl.get(key) ?? 0) + ms);
    }
  }
  const busyMs = totalMs - idleMs;
  return {
    file,
    windowMs: Math.round(totalMs),
    busyMs: Math.round(busyMs),
    idleMs: Math.round(idleMs),
    samples,
    topFunctions: top(fns, busyMs, n),
    topFiles: top(files, busyMs, n),
    byArea: top(areas, busyMs, n + 4),
    topOwnInclusive: top(ownIncl, busyMs, n + 5),
  };
}

/**
 * Who causes the self time of frames whose function name matches `fnMatch`: for each sample in
 * such a frame, the nearest project frame (src/, providers/) up the stack, plus the direct caller.
 */
export function callersOf(file: string, fnMatch: RegExp, opts: { fromUs?: number; toUs?: number; top?: number } = {}): { ownFrame: Row[]; directCaller: Row[]; totalMs: number } {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const c of node.children ?? []) parent.set(c, node.id);
  }
  const own = new Map<string, number>();
  const direct = new Map<string, number>();
  let totalMs = 0;
  let t = profile.startTime;
  const label = (cf: CallFrame) => `${cf.functionName || '(anonymous)'}  ${cf.url ? shortUrl(cf.url) : '(native/vm)'}`;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i] ?? 0;
    const ms = (profile.timeDeltas[i + 1] ?? 0) / 1000;
    if ((opts.fromUs !== undefined && t < opts.fromUs) || (opts.toUs !== undefined && t > opts.toUs)) continue;
    const id = profile.samples[i]!;
    if (!fnMatch.test(byId.get(id)!.callFrame.functionName)) continue;
    totalMs += ms;
    const p = parent.get(id);
    const d = p !== undefined ? label(byId.get(p)!.callFrame) : '(root)';
    direct.set(d, (direct.get(d) ?? 0) + ms);
    let ownLabel = '(no project frame)';
    for (let cur = parent.get(id); cur !== undefined; cur = parent.get(cur)) {
      const cf = byId.get(cur)!.callFrame;
      if (cf.url && /^(src|providers)\//.test(shortUrl(cf.url))) {
        ownLabel = label(cf);
        break;
      }
    }
    own.set(ownLabel, (own.get(ownLabel) ?? 0) + ms);
  }
  return { ownFrame: top(own, totalMs, opts.top ?? 8), directCaller: top(direct, totalMs, opts.top ?? 8), totalMs: Math.round(totalMs) };
}

export function profileMarkdown(s: ProfileSummary): string {
  const table = (title: string, rows: Row[], col = 'self ms') =>
    [`**${title}**`, '', `| # | ${title.includes('area') ? 'area' : 'function / file'} | ${col} | % of busy |`, '|---|---|---:|---:|', ...rows.map((r, i) => `| ${i + 1} | \`${r.name.replace(/\|/g, '\\|')}\` | ${r.selfMs} | ${r.pct}% |`), ''].join('\n');
  return [
    `Window ${s.windowMs} ms, busy ${s.busyMs} ms (idle ${s.idleMs} ms), ${s.samples} samples. Self time unless noted.`,
    '',
    table('Top 10 functions (self time)', s.topFunctions),
    table('Top 10 files (self time)', s.topFiles),
    table('Self time by area (package / project folder)', s.byArea),
    table('Project functions by inclusive time (synchronous part)', s.topOwnInclusive, 'incl. ms'),
  ].join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: tsx bench/profile-analyze.ts <file.cpuprofile> [top]\n');
    process.exit(2);
  }
  const callers = process.argv.indexOf('--callers');
  if (callers > 0) {
    const r = callersOf(file, new RegExp(process.argv[callers + 1] ?? '.'));
    process.stdout.write(`${r.totalMs} ms in matching frames\nnearest project frame:\n`);
    for (const row of r.ownFrame) process.stdout.write(`  ${row.pct.toFixed(1).padStart(5)}%  ${row.selfMs} ms  ${row.name}\n`);
    process.stdout.write('direct caller:\n');
    for (const row of r.directCaller) process.stdout.write(`  ${row.pct.toFixed(1).padStart(5)}%  ${row.selfMs} ms  ${row.name}\n`);
  } else {
    process.stdout.write(profileMarkdown(analyzeProfile(file, { top: Number(process.argv[3] ?? 10) })) + '\n');
  }
}

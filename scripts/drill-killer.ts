/**
 * The drill's killer: at planned moments it SIGKILLs one gateway process and restarts it on the same
 * port and database. With one gateway (SQLite) that is the gateway; with replicas (PostgreSQL) the
 * victim is the replica caught doing what the kill aims at (a create on its way upstream, an output
 * download) or else one picked at random (seeded), while the others keep serving. Every kill also
 * cuts an upload to the victim short.
 */
import { rng } from './drill-plan.ts';
import { mirrorOwners, slowCreateOwners, submittingAttempts } from './drill-db.ts';
import { startHalfUpload, tempEntries, type HalfUpload } from './drill-files.ts';
import type { LoadOptions, LoadResult } from './drill-load.ts';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * How long a mid-create kill's hung creates take upstream, ms (within the 5 s provider timeout). With
 * replicas the victim is known only once a create hangs, and its upload is cut after that: longer.
 */
const HANG_MS = 1_500;
const REPLICA_HANG_MS = 3_000;

/** Bytes a half upload shows in the temp folder before it counts as seen, with replicas (bigger than any pinned input). */
const HALF_BYTES = 256 * 1024;

/** What the submit loop shares with the killer. */
export interface LoadState {
  started: number;
  submitted: number;
  submitsDone: boolean;
  inFlight: number;
  /** Submits in flight: when each started and the replica (base URL) it went to, once known. */
  inFlightSince: Set<{ t0: number; base?: string }>;
}

/** Queue a create fault through the control API, as a drill in another process would: the next create there gets it. */
export async function queueFault(emulatorUrl: string, fault: unknown, result: LoadResult): Promise<void> {
  const res = await fetch(`${emulatorUrl}/__emulator/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ submit: [fault] }) });
  if (res.ok) result.faultsQueued++;
  else result.problems.push(`emulator control API answered ${res.status}`);
}

export async function runKiller(o: LoadOptions, s: LoadState, result: LoadResult): Promise<void> {
  const replicas = o.gateways.length;
  const location = o.gateways[0]!.dbPath;
  const r = rng((o.seed ?? 0) ^ 0x2545f491);
  const slotOfPid = (owner: string) => o.gateways.findIndex((g) => g.pid !== undefined && owner.includes(`:${g.pid}:`));
  for (const [i, at] of o.killAt.entries()) {
    // Bounded: the submit loop always moves on (or gives up), and so does this wait.
    while (s.submitted < at.afterSubmits && !s.submitsDone) await sleep(20);
    await sleep(at.jitterMs);
    const midCreate = i < (o.midCreateKills ?? 0);
    const midMirror = !midCreate && i < (o.midCreateKills ?? 0) + (o.midMirrorKills ?? 0);
    // One gateway: the victim is known now, and the upload is cut first (as the SQLite drill always did).
    let victim: number | null = replicas === 1 ? 0 : midCreate || midMirror ? null : Math.floor(r() * replicas);
    const cutUpload = async (slot: number): Promise<HalfUpload | null> => {
      try {
        const base = o.gate.urlOf(slot);
        if (!base) throw new Error(`replica ${slot + 1} is down`);
        return await startHalfUpload(base, o.key, o.filesDir, replicas === 1 ? 0 : HALF_BYTES);
      } catch (err) {
        result.problems.push(`kill ${i + 1}: half upload not started: ${(err as Error).message}`);
        return null;
      }
    };
    const cutFirst = victim !== null;
    let half = cutFirst ? await cutUpload(victim!) : null;
    if (midMirror) {
      for (const e of o.upstreams.emulators) e.relay.hold = true;
      const heldIds = () => o.upstreams.emulators.flatMap((e) => [...e.relay.held]);
      for (let waited = 0; heldIds().length === 0 && waited < 20_000; waited += 10) await sleep(10);
      if (heldIds().length === 0) result.problems.push(`kill ${i + 1}: no output download began within 20 s (not mid-mirror)`);
      // Replicas: the one whose mirror lease covers a held download (the lease is written before it starts).
      for (let waited = 0; victim === null && heldIds().length > 0 && waited < 3_000; waited += 50) {
        const owner = (await mirrorOwners(location, heldIds())).map(slotOfPid).find((slot) => slot >= 0 && o.gate.urlOf(slot));
        if (owner !== undefined) victim = owner;
        else await sleep(50);
      }
    }
    if (midCreate) {
      await Promise.all(o.upstreams.emulators.map((e) => queueFault(e.emulator.url, { kind: 'hang', ms: replicas === 1 ? HANG_MS : REPLICA_HANG_MS }, result)));
      if (replicas === 1) {
        // A submit held for over 300 ms is one whose create hangs upstream: its attempt is `submitting`.
        const held = () => [...s.inFlightSince].some((f) => Date.now() - f.t0 > 300);
        for (let waited = 0; !held() && waited < 5_000; waited += 5) await sleep(5);
      } else {
        // Replicas are slower under load than a create takes: ask the database whose create hangs (attempt `submitting` for 300 ms).
        for (let waited = 0; victim === null && waited < 5_000; waited += 50) {
          const owner = (await slowCreateOwners(location, 300)).map(slotOfPid).find((slot) => slot >= 0 && o.gate.urlOf(slot));
          if (owner !== undefined) victim = owner;
          else await sleep(50);
        }
      }
    } else {
      for (let waited = 0; o.killBetweenSubmits && s.inFlight > 0 && waited < 3_000; waited += 5) await sleep(5);
    }
    if (victim === null || victim < 0) {
      victim = Math.floor(r() * replicas);
      if (midCreate || midMirror) o.log(`kill ${i + 1}: no replica caught ${midCreate ? 'mid-create' : 'mid-mirror'}; replica ${victim + 1} picked at random`);
    }
    if (!cutFirst) half = await cutUpload(victim);
    const gateway = o.gateways[victim]!;
    const pid = gateway.pid;
    const submitsInFlight = s.inFlight;
    const toVictim = [...s.inFlightSince].filter((f) => f.base !== undefined && o.gate.slotOf(f.base) === victim).length;
    o.gate.close(victim);
    const downAt = Date.now();
    await gateway.kill();
    half?.req.destroy();
    let heldMirrors = 0;
    for (const e of o.upstreams.emulators) {
      for (const id of e.relay.held) result.midMirror.add(`${e.provider.id} ${id}`);
      heldMirrors += e.relay.held.size;
      e.relay.hold = false;
      // Downloads the other replicas were held on are cut (their mirror tries again); the dead one's are gone already.
      e.relay.release();
    }
    // Replicas: only the dead one's (the others' creates are still on their way, not left behind).
    const submitting = await submittingAttempts(location, replicas === 1 ? undefined : pid);
    o.log(`kill ${i + 1} at ${((downAt - s.started) / 1000).toFixed(1)} s${replicas > 1 ? ` (replica ${victim + 1}, ${toVictim} of its submits in flight)` : ''}, after ${s.submitted} submits, ${submitsInFlight} in flight, ${submitting} attempts submitting`);
    try {
      o.gate.open(await gateway.start(), victim);
    } catch (err) {
      result.problems.push(`restart after kill ${i + 1} failed: ${(err as Error).message}`);
      return;
    }
    // The restarted store sweeps what dead uploads left in its temp folder before it listens. A shared
    // folder (replicas) holds the others' uploads in progress, so there only leftovers older than an
    // hour go (src/files/blob-store.ts): the dead one's part stays, counted; it must never become a file.
    const stray = tempEntries(o.filesDir);
    if (replicas === 1 && stray.length) result.problems.push(`after kill ${i + 1}: ${stray.length} stray temp files in the files folder (${stray.slice(0, 3).join(', ')})`);
    if (replicas > 1 && half?.name && stray.includes(half.name)) result.tempLeft++;
    if (half && !half.seen) result.problems.push(`kill ${i + 1}: the half upload never reached the temp folder`);
    result.kills.push({ atMs: downAt - s.started, replica: victim, submitsInFlight, submittingAttempts: submitting, downMs: Date.now() - downAt, halfUpload: half?.seen ?? false, heldMirrors });
  }
}

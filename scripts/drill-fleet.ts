/**
 * The gateways a drill runs: one process on a SQLite file (the classic drill), or N replicas on one
 * PostgreSQL database with one shared files folder.
 *
 * Replicas and public_base_url: a deployment puts its replicas behind one address (a load balancer)
 * and gives them all that address as `public_base_url`, so a file URL any replica hands out is one
 * every replica recognizes as its own (a client may submit an upload's URL to another replica) and
 * one an upstream can reach whichever replica is up. The drill does the same: a small round-robin
 * front door over the replicas that are up is their shared public_base_url (upstream webhooks and
 * result URLs go through it), while the drill's clients call the replicas' own addresses directly,
 * round robin per request; result URLs are also fetched from the replicas' own addresses.
 */
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { drillDatabase, type DrillDatabase, type DrillEngine } from './drill-db.ts';
import { GatewayProcess, freePort, writeConfig, type GatewayPaths } from './drill-gateway.ts';
import type { Gate } from './drill-load.ts';
import type { DrillEmulator } from './drill-upstreams.ts';

export interface Fleet {
  engine: DrillEngine;
  /** Gate slot i is gateways[i]. */
  gateways: GatewayProcess[];
  /** The database location every gateway is given (`REELROUTE_DB`). */
  location: string;
  /** The gateways' public_base_url: the gateway's own address, or the replicas' front door. */
  publicBase: string;
  filesDir: string;
  /** Start every gateway at once (replicas migrate the fresh database together) and open their gate slots. */
  start(gate: Gate): Promise<void>;
  /** SIGTERM every gateway. */
  stop(): Promise<void>;
  /** Every gateway's collected errors. */
  errors(): string[];
  /** Stop the gateways, the front door and the drill's PostgreSQL (`keepDatabase`: on a named server, leave the database). */
  close(keepDatabase?: boolean): Promise<void>;
}

export interface FleetOptions {
  engine: DrillEngine;
  replicas: number;
  root: string;
  dir: string;
  adminKey: string;
  emulators: DrillEmulator[];
  /** A PostgreSQL server to make the drill's database on (default: one started for the drill). */
  pgUrl?: string;
  log: (line: string) => void;
}

export async function startFleet(o: FleetOptions): Promise<Fleet> {
  if (o.engine === 'sqlite' && o.replicas !== 1) throw new Error(`${o.replicas} replicas need --db postgres: SQLite is one process on one disk`);
  const ports = await Promise.all(Array.from({ length: o.replicas }, () => freePort()));
  const paths = (i: number): GatewayPaths => ({ root: o.root, dir: o.dir, adminKey: o.adminKey, port: ports[i]! });
  const filesDir = join(o.dir, 'files');
  let database: DrillDatabase | null = null;
  let door: FrontDoor | null = null;
  let gate: Gate | null = null;
  if (o.engine === 'postgres') database = await drillDatabase(o.pgUrl, o.log);
  if (o.replicas > 1) door = await startFrontDoor(() => gate);
  const location = database?.url ?? join(o.dir, 'reelroute.db');
  const publicBase = door?.url ?? `http://127.0.0.1:${ports[0]}`;
  const configPath = writeConfig(paths(0), o.emulators, o.engine === 'postgres' ? { publicBase, filesDir } : undefined);
  const gateways = ports.map((_, i) => new GatewayProcess(paths(i), configPath, location, o.replicas > 1 ? `replica ${i + 1}` : 'gateway'));
  const stop = async () => {
    await Promise.all(gateways.map((g) => g.stop()));
  };
  return {
    engine: o.engine,
    gateways,
    location,
    publicBase,
    filesDir,
    async start(g) {
      gate = g;
      await Promise.all(gateways.map(async (gw, i) => g.open(await gw.start(), i)));
    },
    stop,
    errors: () => gateways.flatMap((g) => g.errors),
    async close(keepDatabase) {
      await stop();
      await door?.close();
      await database?.close(keepDatabase);
    },
  };
}

interface FrontDoor {
  url: string;
  close(): Promise<void>;
}

/**
 * A pass-through HTTP proxy to the next replica that is up (the gate's round robin). A request that
 * meets a replica being killed fails as it would behind a real balancer (502 or a reset): upstream
 * webhooks are retried, and polling is the safety net anyway.
 */
async function startFrontDoor(gate: () => Gate | null): Promise<FrontDoor> {
  const server = createServer((req, res) => {
    const g = gate();
    if (!g) return void res.writeHead(503).end();
    g.wait(10_000).then(
      (target) => {
        const up = httpRequest(new URL(req.url ?? '/', target), { method: req.method, headers: req.headers }, (r) => {
          res.writeHead(r.statusCode ?? 502, r.headers);
          r.pipe(res);
        });
        up.on('error', () => (res.headersSent ? res.destroy() : res.writeHead(502).end()));
        req.pipe(up);
      },
      () => res.writeHead(503).end(),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

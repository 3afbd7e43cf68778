/**
 * Process entry: config → database (migrated) → providers → HTTP server + poller; graceful
 * shutdown on SIGINT/SIGTERM. With no config file it starts in demo mode.
 */
import { serve } from '@hono/node-server';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError, loadConfig } from './config.ts';
import { openStore } from './db/store.ts';
import { newSecret } from './ids.ts';
import { createKey } from './keys/keys.ts';
import { usdToMicros } from './pricing/money.ts';
import { createRuntime } from './runtime.ts';
import { demoBanner, startDemo, type Demo } from './demo.ts';
import { issueLoginToken } from './http/session.ts';
import { guardSlowClients, slowClientServerOptions } from './http/slow-clients.ts';
import { createLogger } from './logger.ts';
import { handleSignals } from './shutdown.ts';

const log = createLogger();

async function main(): Promise<void> {
  const { config, path } = loadConfig(process.env);
  let demo: Demo | null = null;
  if (path === null) demo = await startDemo(config);
  const adminKey = process.env.REELROUTE_ADMIN_KEY ?? (demo ? newSecret('rr_admin_') : undefined);
  if (!adminKey) throw new ConfigError('REELROUTE_ADMIN_KEY: required outside demo mode');

  const store = await openStore(process.env.REELROUTE_DB || config.database.url || '', { poolSize: config.database.pool_size });
  store.checkpointInBackground();
  const runtime = await createRuntime({ config, store, adminKey, log, processMetrics: true });
  const server = serve({ fetch: runtime.app.fetch, hostname: config.server.host, port: config.server.port, serverOptions: slowClientServerOptions(config.server) });
  guardSlowClients(server, config.server);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${config.server.host}:${port}`;
  // Demo mode: the emulators fetch uploads and pinned inputs from the gateway on loopback.
  if (demo) runtime.files.files.useLoopbackBase(['0.0.0.0', '::'].includes(config.server.host) ? `http://127.0.0.1:${port}` : url);
  await runtime.poller.start();
  runtime.callbacks.start();
  runtime.files.start();
  runtime.replicas.start();
  log.info({ url, providers: runtime.ctx.providers.map((p) => p.id), demo: demo !== null }, 'reelroute listening');

  if (demo) {
    const { key } = await createKey(store, { name: 'demo', balanceMicros: usdToMicros(25), dailyBudgetMicros: null, monthlyBudgetMicros: null }, Date.now());
    process.stdout.write(demoBanner({ gatewayUrl: url, adminKey: process.env.REELROUTE_ADMIN_KEY === undefined ? adminKey : null, apiKey: key, mediaUrl: demo.mediaUrl, providers: runtime.ctx.providers, dashboardUrl: `${url}/dashboard/login/${(await issueLoginToken(store, { role: 'admin', adminKey }, Date.now()))}` }) + '\n');
  }

  handleSignals({
    server: server as Server,
    log,
    stopWorkers: () => Promise.all([runtime.poller.stop(), runtime.callbacks.stop(), runtime.files.stop(), runtime.replicas.stop()]),
    release: async () => {
      await demo?.close();
      await runtime.ctx.health.close();
      await store.close();
    },
  });
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) {
    process.stderr.write(`reelroute: ${err.message}\n`);
  } else if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
    process.stderr.write(`reelroute: the port is already in use (set PORT to use another)\n`);
  } else {
    log.fatal({ err }, 'start-up failed');
  }
  process.exit(1);
});

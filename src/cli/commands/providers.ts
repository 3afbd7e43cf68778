/** `reelroute providers list|enable|disable|priority` — providers through /admin/providers. */
import type { Command } from 'commander';
import { callJson } from '../client.ts';
import { connectionOf } from '../context.ts';
import { UsageError, formatOf, printList, printObject, type Column } from '../output.ts';

interface Health {
  state: string;
  success_rate: number | null;
  p50_completion_s: number | null;
  consecutive_failures: number;
}
interface ProviderView {
  id: string;
  type: string;
  enabled: boolean;
  priority: number;
  health: Health | null;
  models: Record<string, { enabled: boolean; price: Record<string, unknown> }>;
}

const priceText = (p: Record<string, unknown>) => {
  const unit = 'credit_usd' in p ? ` credits@$${String(p.credit_usd)}` : ' USD';
  const per = p.per_second as Record<string, number> | undefined;
  return per ? `${per['720p']}/${per['1080p']} per s${unit}` : `${String(p.per_request)} per request${unit}`;
};

const COLUMNS: Column<ProviderView>[] = [
  { header: 'id', get: (p) => p.id },
  { header: 'type', get: (p) => p.type },
  { header: 'enabled', get: (p) => p.enabled },
  { header: 'priority', get: (p) => p.priority, numeric: true },
  { header: 'state', get: (p) => p.health?.state },
  { header: 'success_rate', get: (p) => p.health?.success_rate, numeric: true },
  { header: 'p50_completion_s', get: (p) => p.health?.p50_completion_s, numeric: true },
  { header: 'models', get: (p) => Object.entries(p.models).map(([m, v]) => `${m}${v.enabled ? '' : ' (off)'}: ${priceText(v.price)}`).join('; ') },
];

const fields = (p: ProviderView) => COLUMNS.map((c): [string, string | number | boolean | null] => [c.header, c.get(p) ?? null]);

export function providersCommand(program: Command): void {
  const providers = program.command('providers').description('providers: list, enable, disable, priority');
  const patch = async (cmd: Command, id: string, body: Record<string, unknown>, formatFlag?: string) => {
    const format = formatOf(formatFlag);
    const res = await callJson<ProviderView>(connectionOf(cmd), 'PATCH', `/admin/providers/${encodeURIComponent(id)}`, { json: body });
    printObject(format, fields(res), res);
  };

  providers
    .command('list')
    .description('every provider with its state, prices and priority')
    .option('--format <format>', 'table, csv or json')
    .action(async (o: { format?: string }, cmd: Command) => {
      const list = await callJson<{ data: ProviderView[] }>(connectionOf(cmd), 'GET', '/admin/providers');
      printList(formatOf(o.format), COLUMNS, list.data, list);
    });
  for (const [name, enabled] of [
    ['enable', true],
    ['disable', false],
  ] as const) {
    providers
      .command(`${name} <id>`)
      .description(`${name} a provider (at once, survives a restart, audited)`)
      .option('--format <format>', 'table, csv or json')
      .action((id: string, o: { format?: string }, cmd: Command) => patch(cmd, id, { enabled }, o.format));
  }
  providers
    .command('priority <id> <n>')
    .description('set the priority tier (lower is tried first)')
    .option('--format <format>', 'table, csv or json')
    .action((id: string, n: string, o: { format?: string }, cmd: Command) => {
      if (!/^-?\d+$/.test(n)) throw new UsageError(`priority: expected an integer, got ${JSON.stringify(n)}`);
      return patch(cmd, id, { priority: Number(n) }, o.format);
    });
}

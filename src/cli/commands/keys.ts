/** `reelroute keys create|list|revoke|credit` — API keys through /admin/keys. */
import type { Command } from 'commander';
import { callJson } from '../client.ts';
import { connectionOf, usdArg } from '../context.ts';
import { formatOf, note, printList, printObject, usd, type Column } from '../output.ts';

interface KeyView {
  id: string;
  name: string;
  prefix: string;
  balance_usd: number | null;
  daily_budget_usd: number | null;
  monthly_budget_usd: number | null;
  created: number;
  revoked: boolean;
  key?: string;
  webhook_secret?: string;
}

const COLUMNS: Column<KeyView>[] = [
  { header: 'id', get: (k) => k.id },
  { header: 'name', get: (k) => k.name },
  { header: 'prefix', get: (k) => k.prefix },
  { header: 'balance_usd', get: (k) => (k.balance_usd === null ? 'post-paid' : usd(k.balance_usd)), numeric: true },
  { header: 'daily_budget_usd', get: (k) => usd(k.daily_budget_usd), numeric: true },
  { header: 'monthly_budget_usd', get: (k) => usd(k.monthly_budget_usd), numeric: true },
  { header: 'created', get: (k) => new Date(k.created * 1000).toISOString() },
  { header: 'revoked', get: (k) => k.revoked },
];

const fields = (k: KeyView): [string, string | number | boolean | null][] => [
  ...COLUMNS.map((c): [string, string | number | boolean | null] => [c.header, c.get(k) ?? null]),
  ...(k.key ? ([['key', k.key], ['webhook_secret', k.webhook_secret ?? null]] as [string, string | null][]) : []),
];

export function keysCommand(program: Command): void {
  const keys = program.command('keys').description('API keys: create, list, revoke, credit');

  keys
    .command('create')
    .description('create an API key (its key and webhook secret are shown only now)')
    .requiredOption('--name <name>', 'a name people recognise')
    .option('--balance <usd>', 'prepaid balance (without it the key is post-paid)')
    .option('--daily-budget <usd>', 'daily spending limit')
    .option('--monthly-budget <usd>', 'monthly spending limit')
    .option('--format <format>', 'table, csv or json')
    .action(async (o: { name: string; balance?: string; dailyBudget?: string; monthlyBudget?: string; format?: string }, cmd: Command) => {
      const format = formatOf(o.format);
      const body = {
        name: o.name,
        ...(o.balance !== undefined ? { balance_usd: usdArg(o.balance, '--balance') } : {}),
        ...(o.dailyBudget !== undefined ? { daily_budget_usd: usdArg(o.dailyBudget, '--daily-budget') } : {}),
        ...(o.monthlyBudget !== undefined ? { monthly_budget_usd: usdArg(o.monthlyBudget, '--monthly-budget') } : {}),
      };
      const created = await callJson<KeyView>(connectionOf(cmd), 'POST', '/admin/keys', { json: body });
      printObject(format, fields(created), created);
      note(format, 'Keep the key and the webhook secret now: they are not shown again.');
    });

  keys
    .command('list')
    .description('list API keys')
    .option('--format <format>', 'table, csv or json')
    .action(async (o: { format?: string }, cmd: Command) => {
      const format = formatOf(o.format);
      const list = await callJson<{ data: KeyView[] }>(connectionOf(cmd), 'GET', '/admin/keys');
      printList(format, COLUMNS, list.data, list);
    });

  keys
    .command('revoke <id>')
    .description('revoke an API key (it gets 401 from then on)')
    .option('--format <format>', 'table, csv or json')
    .action(async (id: string, o: { format?: string }, cmd: Command) => {
      const format = formatOf(o.format);
      const res = await callJson<KeyView>(connectionOf(cmd), 'DELETE', `/admin/keys/${encodeURIComponent(id)}`);
      printObject(format, fields(res), res);
    });

  keys
    .command('credit <id> <usd>')
    .description("add to a prepaid key's balance")
    .option('--note <text>', 'why (kept in the ledger)')
    .option('--format <format>', 'table, csv or json')
    .action(async (id: string, amount: string, o: { note?: string; format?: string }, cmd: Command) => {
      const format = formatOf(o.format);
      const body = { amount_usd: usdArg(amount, 'USD'), ...(o.note ? { note: o.note } : {}) };
      const res = await callJson<KeyView>(connectionOf(cmd), 'POST', `/admin/keys/${encodeURIComponent(id)}/credit`, { json: body });
      printObject(format, fields(res), res);
    });
}

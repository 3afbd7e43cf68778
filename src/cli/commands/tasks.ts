/** `reelroute tasks list|show` — every key's tasks through the admin task routes. */
import type { Command } from 'commander';
import { callJson } from '../client.ts';
import { connectionOf } from '../context.ts';
import { UsageError, formatOf, note, printList, printObject, usd, type Column } from '../output.ts';

interface AdminTask {
  id: string;
  model: string;
  status: string;
  created: number;
  provider: string | null;
  key_id: string;
  upstream_cost_usd: number;
  produced_units: number | null;
  underbilled: boolean;
  usage: { billable_units: number; reserved_usd: number; charged_usd: number; refunded_usd: number };
  error: { code: string; message: string } | null;
  attempts: { provider: string; status: string; upstream_id: string | null; upstream_cost_usd: number }[];
  ledger: { id: number; kind: string; amount_usd: number; balance_delta_usd: number; note: string | null; created: number }[];
}

const time = (s: number) => new Date(s * 1000).toISOString();

const COLUMNS: Column<AdminTask>[] = [
  { header: 'id', get: (t) => t.id },
  { header: 'created', get: (t) => time(t.created) },
  { header: 'key_id', get: (t) => t.key_id },
  { header: 'model', get: (t) => t.model },
  { header: 'status', get: (t) => t.status },
  { header: 'provider', get: (t) => t.provider },
  { header: 'attempts', get: (t) => t.attempts.map((a) => `${a.provider}:${a.status}`).join(' → ') },
  { header: 'units', get: (t) => t.usage.billable_units, numeric: true },
  { header: 'charged_usd', get: (t) => usd(t.usage.charged_usd), numeric: true },
  { header: 'refunded_usd', get: (t) => usd(t.usage.refunded_usd), numeric: true },
  { header: 'upstream_cost_usd', get: (t) => usd(t.upstream_cost_usd), numeric: true },
];

const LIMIT_MAX = 100;

export function tasksCommand(program: Command): void {
  const tasks = program.command('tasks').description("every key's tasks: list, show");

  tasks
    .command('list')
    .description('tasks, newest first')
    .option('--key <id>', 'only this API key')
    .option('--status <status>', 'pending, processing, completed, failed or cancelled')
    .option('--provider <id>', 'only this provider')
    .option('--model <model>', 'only this model')
    .option('--limit <n>', `how many (1–${LIMIT_MAX})`, '20')
    .option('--after <id>', 'the page after this task id')
    .option('--format <format>', 'table, csv or json')
    .action(async (o: { key?: string; status?: string; provider?: string; model?: string; limit: string; after?: string; format?: string }, cmd: Command) => {
      const format = formatOf(o.format);
      if (!/^\d+$/.test(o.limit)) throw new UsageError(`--limit: expected a number, got ${JSON.stringify(o.limit)}`);
      const query = { key: o.key, status: o.status, provider: o.provider, model: o.model, limit: o.limit, after: o.after };
      const page = await callJson<{ data: AdminTask[]; has_more: boolean }>(connectionOf(cmd), 'GET', '/admin/tasks', { query });
      printList(format, COLUMNS, page.data, page);
      if (page.has_more && page.data.length) note(format, `more: --after ${page.data[page.data.length - 1]!.id}`);
    });

  tasks
    .command('show <id>')
    .description('one task with its attempts, upstream cost and ledger lines')
    .option('--format <format>', 'table or json')
    .action(async (id: string, o: { format?: string }, cmd: Command) => {
      const format = formatOf(o.format);
      const t = await callJson<AdminTask>(connectionOf(cmd), 'GET', `/admin/tasks/${encodeURIComponent(id)}`);
      if (format !== 'table') return printObject(format === 'csv' ? 'json' : format, [], t);
      printObject(format, [
        ...COLUMNS.filter((c) => c.header !== 'attempts').map((c): [string, string | number | boolean | null] => [c.header, c.get(t) ?? null]),
        ['reserved_usd', usd(t.usage.reserved_usd)],
        ['produced_units', t.produced_units],
        ['underbilled', t.underbilled],
        ['error', t.error ? `${t.error.code}: ${t.error.message}` : null],
      ], t);
      note(format, 'Attempts');
      printList(format, [
        { header: '#', get: (_a) => t.attempts.indexOf(_a) + 1, numeric: true },
        { header: 'provider', get: (a) => a.provider },
        { header: 'status', get: (a) => a.status },
        { header: 'upstream_id', get: (a) => a.upstream_id },
        { header: 'upstream_cost_usd', get: (a) => usd(a.upstream_cost_usd), numeric: true },
      ], t.attempts);
      note(format, 'Ledger');
      printList(format, [
        { header: 'kind', get: (l) => l.kind },
        { header: 'amount_usd', get: (l) => usd(l.amount_usd), numeric: true },
        { header: 'balance_delta_usd', get: (l) => usd(l.balance_delta_usd), numeric: true },
        { header: 'note', get: (l) => l.note },
        { header: 'at', get: (l) => time(l.created) },
      ], t.ledger);
    });
}

/** `reelroute reconcile` — match a provider's usage statement (CSV file) with what reelroute recorded. */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { callJson } from '../client.ts';
import { connectionOf, dayArg } from '../context.ts';
import { UsageError, formatOf, note, printList, printObject, usd } from '../output.ts';

interface Result {
  provider: string;
  from: string;
  to: string;
  matched: number;
  ours_total_usd: number;
  theirs_total_usd: number;
  difference_usd: number;
  mismatched: { upstream_id: string; task_id: string; ours_usd: number; theirs_usd: number }[];
  missing_from_statement: { upstream_id: string | null; task_id: string; ours_usd: number; attempt_status?: string }[];
  unknown_to_us: { upstream_id: string; theirs_usd: number }[];
}

/** The amount column: as given, else `amount_credits` when the statement's header has it. */
function amountColumnOf(csv: string, given: string | undefined): string | undefined {
  if (given) return given;
  const header = csv.replace(/^\uFEFF/, '').split(/\r?\n/, 1)[0] ?? '';
  return header.split(',').some((h) => h.trim().replace(/^"|"$/g, '') === 'amount_credits') ? 'amount_credits' : undefined;
}

export function reconcileCommand(program: Command): void {
  program
    .command('reconcile')
    .description("match a provider's usage statement (CSV) with reelroute's attempts by upstream id")
    .requiredOption('--provider <id>', 'the provider whose statement it is')
    .requiredOption('--file <path>', 'the statement, CSV with a header row')
    .option('--from <day>', 'first UTC day, YYYY-MM-DD (default: the first of this month)')
    .option('--to <day>', 'last UTC day, inclusive (default: today)')
    .option('--id-column <name>', 'the column of upstream ids (default: upstream_id)')
    .option('--amount-column <name>', 'amount_usd, or amount_credits (used when the header has it)')
    .option('--format <format>', 'table or json')
    .action(async (o: { provider: string; file: string; from?: string; to?: string; idColumn?: string; amountColumn?: string; format?: string }, cmd: Command) => {
      const format = formatOf(o.format);
      let csv: string;
      try {
        csv = await readFile(o.file, 'utf8');
      } catch (err) {
        throw new UsageError(`--file: cannot read ${o.file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
      }
      const query = {
        provider: o.provider,
        from: dayArg(o.from, '--from'),
        to: dayArg(o.to, '--to'),
        id_column: o.idColumn,
        amount_column: amountColumnOf(csv, o.amountColumn),
      };
      const r = await callJson<Result>(connectionOf(cmd), 'POST', '/admin/reconciliation', { query, body: { text: csv, type: 'text/csv' } });
      if (format !== 'table') return printObject(format === 'csv' ? 'json' : format, [], r);
      printObject(format, [
        ['provider', r.provider],
        ['range', `${r.from} … ${r.to}`],
        ['matched', r.matched],
        ['ours_total_usd', usd(r.ours_total_usd)],
        ['theirs_total_usd', usd(r.theirs_total_usd)],
        ['difference_usd', usd(r.difference_usd)],
      ], r);
      if (r.mismatched.length) {
        note(format, 'Mismatched');
        printList(format, [
          { header: 'upstream_id', get: (m) => m.upstream_id },
          { header: 'task_id', get: (m) => m.task_id },
          { header: 'ours_usd', get: (m) => usd(m.ours_usd), numeric: true },
          { header: 'theirs_usd', get: (m) => usd(m.theirs_usd), numeric: true },
        ], r.mismatched);
      }
      if (r.missing_from_statement.length) {
        note(format, 'Missing from the statement');
        printList(format, [
          { header: 'upstream_id', get: (m) => m.upstream_id ?? '(never learned)' },
          { header: 'task_id', get: (m) => m.task_id },
          { header: 'attempt', get: (m) => m.attempt_status },
          { header: 'ours_usd', get: (m) => usd(m.ours_usd), numeric: true },
        ], r.missing_from_statement);
      }
      if (r.unknown_to_us.length) {
        note(format, 'Unknown to us');
        printList(format, [
          { header: 'upstream_id', get: (m) => m.upstream_id },
          { header: 'theirs_usd', get: (m) => usd(m.theirs_usd), numeric: true },
        ], r.unknown_to_us);
      }
    });
}

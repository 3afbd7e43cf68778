/** `reelroute spend` — the spend report (/admin/spend) as a table, CSV (streamed) or JSON. */
import type { Command } from 'commander';
import { call, callJson } from '../client.ts';
import { connectionOf, dayArg } from '../context.ts';
import { formatOf, note, pipeBody, printList, usd, type Column } from '../output.ts';

type Row = Record<string, string | number | null>;

/** Group columns first (as the API orders them), then counts, then money. */
function columnsOf(sample: Row): Column<Row>[] {
  return Object.keys(sample).map((key) => ({
    header: key,
    get: (r: Row) => (key.endsWith('_usd') ? usd(r[key] as number | null) : r[key]),
    numeric: typeof sample[key] === 'number',
  }));
}

export function spendCommand(program: Command): void {
  program
    .command('spend')
    .description('spend per group over UTC days (a task counts on its creation day)')
    .option('--from <day>', 'first UTC day, YYYY-MM-DD (default: the first of this month)')
    .option('--to <day>', 'last UTC day, inclusive (default: today)')
    .option('--group-by <dims>', 'any of day,key,model,provider, comma-separated')
    .option('--format <format>', 'table, csv or json (piped: csv)')
    .action(async (o: { from?: string; to?: string; groupBy?: string; format?: string }, cmd: Command) => {
      const format = formatOf(o.format, 'csv');
      const query = { from: dayArg(o.from, '--from'), to: dayArg(o.to, '--to'), group_by: o.groupBy };
      const conn = connectionOf(cmd);
      if (format === 'csv') {
        // The API's own CSV, streamed through: big ranges never sit whole in memory.
        return pipeBody(await call(conn, 'GET', '/admin/spend', { query: { ...query, format: 'csv' } }), 'spend export');
      }
      const report = await callJson<{ from: string; to: string; group_by: string[]; data: Row[]; totals: Row }>(conn, 'GET', '/admin/spend', { query });
      if (format === 'json') return printList('json', [], [], report);
      note(format, `Spend ${report.from} … ${report.to} (UTC, by creation day)`);
      // The group columns as the API names them (a key is its id and its name).
      const groupColumns = report.group_by.flatMap((d) => (d === 'key' ? ['key_id', 'key_name'] : [d]));
      const labels = groupColumns.length ? groupColumns : ['group'];
      const totalsRow: Row = { ...Object.fromEntries(labels.map((k, i) => [k, i === 0 ? 'total' : ''])), ...report.totals };
      printList(format, columnsOf(totalsRow), [...report.data, totalsRow]);
    });
}

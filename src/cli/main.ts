/**
 * `reelroute` — the admin CLI (CONTRACT §9). An API client like any other: it talks to a gateway's
 * admin API over HTTP (`--url`, so it works against a remote gateway), never to its database.
 *
 * Parsing is commander (the maintained standard for Node CLIs: subcommands, required options,
 * environment defaults, generated help); tables are cli-table3 (column widths and alignment that
 * survive long values). Exit status: 0 done, 1 the API refused or could not be reached (its message
 * on stderr), 2 the command line was wrong.
 */
import { Command, CommanderError, Option } from 'commander';
import { ApiCallError } from './client.ts';
import { UsageError, printError } from './output.ts';
import { keysCommand } from './commands/keys.ts';
import { spendCommand } from './commands/spend.ts';
import { providersCommand } from './commands/providers.ts';
import { tasksCommand } from './commands/tasks.ts';
import { reconcileCommand } from './commands/reconcile.ts';

export function buildProgram(): Command {
  const program = new Command('reelroute')
    .description('reelroute admin CLI: keys, spend, providers, tasks, reconciliation')
    .addOption(new Option('--url <url>', 'the gateway').env('REELROUTE_URL').default('http://127.0.0.1:8080'))
    .addOption(new Option('--admin-key <key>', 'the admin key').env('REELROUTE_ADMIN_KEY'))
    // Global flags go before the command; a command's own flags after it.
    .enablePositionalOptions()
    .showHelpAfterError()
    .exitOverride();
  keysCommand(program);
  spendCommand(program);
  providersCommand(program);
  tasksCommand(program);
  reconcileCommand(program);
  for (const cmd of program.commands) {
    cmd.exitOverride();
    for (const sub of cmd.commands) sub.exitOverride();
  }
  return program;
}

/** Run with these arguments (without node and the script); resolves to the exit status. */
export async function run(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2; // commander printed it
    if (err instanceof UsageError) {
      printError(err.message);
      return 2;
    }
    if (err instanceof ApiCallError) {
      printError(err.message);
      return 1;
    }
    printError(`unexpected error: ${(err as Error).stack ?? String(err)}`);
    return 1;
  }
}

process.exitCode = await run(process.argv.slice(2));

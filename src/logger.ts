/**
 * The process logger: human-readable lines on a terminal (pino-pretty), one JSON object per line
 * otherwise (files, journald, log shippers). LOG_LEVEL sets the level (default info).
 */
import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';

export function createLogger(out: NodeJS.WriteStream = process.stdout, level = process.env.LOG_LEVEL ?? 'info'): Logger {
  if (!out.isTTY) return pino({ level });
  // Synchronous so the last lines before a shutdown's process.exit are not lost.
  return pino({ level }, pretty({ destination: out, sync: true, colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' }));
}

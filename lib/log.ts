import pino, { type Logger } from 'pino';

/**
 * The process logger: human-readable on a terminal, JSON lines otherwise (CI, log shippers).
 * `LOG_LEVEL` sets the level; `SEPT_LOG_FORMAT=json|pretty` overrides the terminal check.
 */
function createLogger(): Logger {
  const level = process.env.LOG_LEVEL ?? 'info';
  const format = process.env.SEPT_LOG_FORMAT ?? (process.stdout.isTTY ? 'pretty' : 'json');
  if (format === 'pretty') {
    return pino({
      level,
      transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'HH:MM:ss', ignore: 'pid,hostname' } },
    });
  }
  return pino({ level });
}

export const log: Logger = createLogger();

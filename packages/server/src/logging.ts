/**
 * Where log lines go and in which form: JSON lines for collectors (the default in a container,
 * where stdout is a pipe), readable text for a person at a terminal. The level can change
 * while Meridian runs (`PUT /debug/loglevel`, or SIGHUP re-reading `log.level`).
 */
import { PinoPretty } from 'pino-pretty';
import type { Logger } from '@meridian/model';
import { LOG_LEVELS, type MeridianConfig } from './config.ts';

type LogFormat = MeridianConfig['log']['format'];

/** `auto`: text when stdout is a terminal, JSON otherwise. */
export function resolveLogFormat(format: LogFormat, stdoutIsTty: boolean): 'json' | 'text' {
  return format === 'auto' ? (stdoutIsTty ? 'text' : 'json') : format;
}

/**
 * The stream for `text`: pino-pretty in this thread (no worker), so a line is written before
 * the process exits and the order of lines is kept. Colours only on a terminal.
 */
export function textLogStream(options: { colorize: boolean; destination?: NodeJS.WritableStream }): NodeJS.WritableStream {
  return PinoPretty({
    colorize: options.colorize,
    sync: true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,service',
    ...(options.destination ? { destination: options.destination } : {}),
  });
}

/**
 * Sets the level of the root logger and of every child that did not choose its own: pino
 * children without a level of their own read it through their prototype. Returns what is
 * wrong with `level`, or undefined once it is set.
 */
export function changeLogLevel(logger: Logger, level: string): string | undefined {
  if (!(LOG_LEVELS as readonly string[]).includes(level)) return `unknown level ${level} (one of ${LOG_LEVELS.join(', ')})`;
  logger.level = level;
  return undefined;
}

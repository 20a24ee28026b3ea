import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger } from 'pino';

export interface LoggerConfig {
  readonly level?: string;
  /** Where lines go; default stdout. Tests pass a stream to read them. */
  readonly destination?: NodeJS.WritableStream;
}

/** The one root logger; components take `logger.child({ component, cluster, conn })`. */
export function createLogger(config: LoggerConfig = {}): Logger {
  const options: LoggerOptions = {
    level: config.level ?? 'info',
    base: { service: 'meridian' },
    timestamp: pino.stdTimeFunctions.isoTime,
    serializers: { err: pino.stdSerializers.err },
  };
  return config.destination ? pino(options, config.destination) : pino(options);
}

/** A logger that drops everything, for unit tests and benchmarks. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

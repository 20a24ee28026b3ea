import type { Logger } from '@meridian/model';

/**
 * A NACK's error text is the client's to choose: what is kept (in `/debug/syncz`, CSDS) and
 * logged is cut to this many characters, so a proxy cannot make every view and log line of
 * it megabytes long. Envoy's own rejection messages fit many times over.
 */
export const MAX_NACK_MESSAGE_LENGTH = 4096;

/** Log lines about one connection's NACKs of one type: at most one per this interval. */
export const NACK_LOG_INTERVAL_MS = 30_000;

/** The message as kept and logged: cut at the limit, and saying so. */
export function capNackMessage(message: string): string {
  if (message.length <= MAX_NACK_MESSAGE_LENGTH) return message;
  return `${message.slice(0, MAX_NACK_MESSAGE_LENGTH)}… [truncated: ${message.length} characters]`;
}

interface Window {
  suppressed: number;
  lastNonce: string;
  lastMessage: string;
  readonly timer: NodeJS.Timeout;
}

/**
 * Rate-limits the NACK warnings of one connection, per type: a NACK is logged in full and
 * opens an interval; those within it are only counted, and when it ends one summary line says
 * how many there were and gives the last one's message. A proxy that rejects every response
 * (or a client sending NACKs in a loop) then writes at most two lines per type per interval,
 * not one per NACK; every NACK is still counted by the `onNack` hook (a metric).
 */
export class NackLog {
  private readonly logger: Logger;
  private readonly intervalMs: number;
  private readonly windows = new Map<string, Window>();

  constructor(logger: Logger, intervalMs = NACK_LOG_INTERVAL_MS) {
    this.logger = logger;
    this.intervalMs = intervalMs;
  }

  /** One NACK of `type`; `message` already capped. */
  record(type: string, nonce: string, message: string): void {
    const open = this.windows.get(type);
    if (open) {
      open.suppressed++;
      open.lastNonce = nonce;
      open.lastMessage = message;
      return;
    }
    this.logger.warn({ type, nonce, message }, 'proxy rejected config (NACK)');
    const timer = setTimeout(() => this.end(type), this.intervalMs);
    timer.unref();
    this.windows.set(type, { suppressed: 0, lastNonce: nonce, lastMessage: message, timer });
  }

  /** The connection ended: what was counted and not yet logged is logged now. */
  close(): void {
    for (const [type, w] of [...this.windows]) {
      clearTimeout(w.timer);
      this.end(type);
    }
  }

  private end(type: string): void {
    const w = this.windows.get(type);
    this.windows.delete(type);
    if (!w || w.suppressed === 0) return;
    this.logger.warn(
      { type, suppressed: w.suppressed, intervalMs: this.intervalMs, lastNonce: w.lastNonce, lastMessage: w.lastMessage },
      'proxy rejected config (NACK) again; repeats not logged one by one',
    );
  }
}

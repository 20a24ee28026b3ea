/**
 * An error with a stable, greppable code. Each package keeps its codes in its own `errors.ts`;
 * mapping to gRPC or HTTP status happens once, at the edge.
 */
export class MeridianError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MeridianError';
    this.code = code;
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * The first line of the message, followed by those of the causes behind it that add
 * something: undici says only "fetch failed", and what happened (connect ECONNREFUSED
 * 10.0.0.1:6443, a certificate that does not verify) is in its `cause`.
 */
export function errorMessageWithCauses(err: unknown): string {
  const firstLine = (e: unknown) => errorMessage(e).split('\n')[0] ?? '';
  const message = firstLine(err);
  const causes: string[] = [];
  for (let cause = causeOf(err), depth = 0; cause !== undefined && depth < 4; cause = causeOf(cause), depth++) {
    const text = firstLine(cause);
    if (text && text !== message && !causes.includes(text)) causes.push(text);
  }
  return causes.length > 0 ? `${message} (${causes.join('; ')})` : message;
}

function causeOf(err: unknown): unknown {
  return err !== null && typeof err === 'object' && 'cause' in err ? err.cause : undefined;
}

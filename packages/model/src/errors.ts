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

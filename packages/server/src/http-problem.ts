/**
 * The one error shape of the HTTP port: `{ error, code, ...detail }` with a status. Views
 * return a Problem as a value (an expected outcome: unknown proxy, missing parameter); the
 * HTTP layer turns it into the answer.
 */
export const HttpErrorCode = {
  BadParameter: 'HTTP_ERR_BAD_PARAMETER',
  BadRequest: 'HTTP_ERR_BAD_REQUEST',
  NotFound: 'HTTP_ERR_NOT_FOUND',
  Ambiguous: 'HTTP_ERR_AMBIGUOUS',
  Unauthorized: 'HTTP_ERR_UNAUTHORIZED',
  Forbidden: 'HTTP_ERR_FORBIDDEN',
  Internal: 'HTTP_ERR_INTERNAL',
} as const;
export type HttpErrorCode = (typeof HttpErrorCode)[keyof typeof HttpErrorCode];

export class Problem {
  readonly status: number;
  readonly code: HttpErrorCode;
  readonly message: string;
  /** More for the caller, e.g. the parameter at fault or the candidates to choose from. */
  readonly detail: Readonly<Record<string, unknown>>;
  constructor(status: number, code: HttpErrorCode, message: string, detail: Readonly<Record<string, unknown>> = {}) {
    this.status = status;
    this.code = code;
    this.message = message;
    this.detail = detail;
  }
}

export function problem(status: number, code: HttpErrorCode, message: string, detail?: Readonly<Record<string, unknown>>): Problem {
  return new Problem(status, code, message, detail);
}

export function problemBody(p: Problem): object {
  return { error: p.message, code: p.code, ...p.detail };
}

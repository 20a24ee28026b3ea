/** What compiling found wrong with a policy object that validation alone cannot see. */
import type { PolicyRef } from '../policy-object.ts';

export const ProblemSeverity = {
  /** The object is not applied at all. */
  Error: 'error',
  /** The named part of the object is not applied; the rest is. */
  Part: 'part',
  /** Applied, but probably not what the author meant (a route to a subset nobody defines). */
  Warning: 'warning',
} as const;
export type ProblemSeverity = (typeof ProblemSeverity)[keyof typeof ProblemSeverity];

export interface CompileProblem {
  readonly ref: PolicyRef;
  readonly path: string;
  readonly message: string;
  readonly severity: ProblemSeverity;
}

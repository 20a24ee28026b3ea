/**
 * Validation results with field paths (`spec.http[2].route[0].weight: …`), as grpc-js-xds
 * reports resource errors: one bad field names itself, and one bad object never blocks others.
 */
import type { z } from 'zod';

export type ValidationResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly errors: readonly string[] };

/** `['spec', 'http', 2, 'headers', 'x-user']` → `spec.http[2].headers["x-user"]`. */
export function formatFieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(String(key))) out += out ? `.${String(key)}` : String(key);
    else out += `[${JSON.stringify(String(key))}]`;
  }
  return out;
}

/** Runs a zod schema over `value`, naming each problem by its path under `prefix`. */
export function validateWith<T>(schema: z.ZodType<T>, value: unknown, prefix: readonly PropertyKey[]): ValidationResult<T> {
  const result = schema.safeParse(value);
  if (result.success) return { ok: true, value: result.data };
  const errors = result.error.issues.map((issue) => `${formatFieldPath([...prefix, ...issue.path]) || '(object)'}: ${issue.message}`);
  return { ok: false, errors: [...new Set(errors)] };
}

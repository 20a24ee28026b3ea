/** Field shapes shared by the Istio and Gateway API schemas. */
import { isIP } from 'node:net';
import { RE2JS } from 're2js';
import { z } from 'zod';
import { parse as parseCel } from '@bufbuild/cel';

/**
 * Envoy refuses a `safe_regex` whose RE2 program is larger than this (its default
 * `re2.max_program_size.error_level`); a policy regex that would be refused there is
 * refused here, where its author sees why.
 */
export const MAX_REGEX_PROGRAM_SIZE = 100;

/** Why `regex` cannot be used as an RE2 pattern in Envoy, or `undefined` when it can. */
export function re2Problem(regex: string): string | undefined {
  let compiled: RE2JS;
  try {
    compiled = RE2JS.compile(regex);
  } catch (err) {
    return `not a valid RE2 regex: ${err instanceof Error ? err.message : String(err)}`;
  }
  const size = compiled.programSize();
  return size > MAX_REGEX_PROGRAM_SIZE ? `RE2 program size ${size} is over Envoy's limit of ${MAX_REGEX_PROGRAM_SIZE}` : undefined;
}

/**
 * Why a CEL expression would not parse (Envoy would then reject the whole listener carrying
 * it), or undefined. Buf's CEL parser, the language's grammar and macros; whether the
 * attributes exist is for Envoy to say.
 */
export function celProblem(expression: string): string | undefined {
  try {
    parseCel(expression);
    return undefined;
  } catch (err) {
    return `not a CEL expression: ${err instanceof Error ? err.message : String(err)}`;
  }
}

/**
 * A header a route may set, add or remove: any but Meridian's own `x-meridian-*`, which carry
 * the identity exchange of the workload metrics (a route editing them would fake or erase
 * another workload's labels).
 */
const RESERVED_HEADER_MESSAGE = "x-meridian-* headers are Meridian's identity exchange: a route may not edit them";
const isReservedHeader = (name: string) => name.toLowerCase().startsWith('x-meridian-');

export const editableHeaderName = z.string().min(1).refine((name) => !isReservedHeader(name), { message: RESERVED_HEADER_MESSAGE });

/** A map of header names to values a route sets or adds, its keys checked as `editableHeaderName`. */
export const editedHeaders = z.record(z.string().min(1), z.string()).superRefine((headers, ctx) => {
  for (const name of Object.keys(headers)) if (isReservedHeader(name)) ctx.addIssue({ code: 'custom', message: RESERVED_HEADER_MESSAGE, path: [name] });
});

export const celExpression = z.string().min(1).superRefine((expression, ctx) => {
  const problem = celProblem(expression);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

export const re2Regex = z.string().superRefine((regex, ctx) => {
  const problem = re2Problem(regex);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

const DURATION = /^(?:\d+(?:\.\d+)?(?:h|m|s|ms|us|µs|ns))+$/;
const UNIT_MS: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 1e-3, µs: 1e-3, ns: 1e-6 };

/**
 * A duration as Istio and the Gateway API write it (`10s`, `1.5s`, `1h30m`, `250ms`),
 * in milliseconds. Istio's YAML takes Go's duration syntax; protobuf's `1.5s` is a subset.
 */
export function parseDurationMs(text: string): number | undefined {
  if (!DURATION.test(text)) return undefined;
  let total = 0;
  for (const [, amount, unit] of text.matchAll(/(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)/g)) total += Number(amount) * (UNIT_MS[unit ?? ''] ?? 0);
  return total;
}

function durationAtLeast(minMs: number) {
  return z.string().superRefine((text, ctx) => {
    const ms = parseDurationMs(text);
    if (ms === undefined) ctx.addIssue({ code: 'custom', message: `not a duration: ${JSON.stringify(text)} (e.g. 10s, 1.5s, 250ms, 1h30m)` });
    else if (ms < minMs) ctx.addIssue({ code: 'custom', message: `must be at least ${minMs}ms` });
  });
}

/** A duration; 0 is allowed where it means "none" (a session cookie's ttl). */
export const duration = durationAtLeast(0);

/** A timeout, delay or interval: upstream refuses anything under 1 ms. */
export const positiveDuration = durationAtLeast(1);

export const portNumber = z.number().int().min(1).max(65535);

export const percent = z.strictObject({ value: z.number().min(0).max(100) });

export const labels = z.record(z.string().min(1), z.string());

export const workloadSelector = z.strictObject({ matchLabels: labels.optional() });

/** `networking.istio.io`'s own WorkloadSelector (Sidecar, ServiceEntry): `labels`, not `matchLabels`. */
export const networkingWorkloadSelector = z.strictObject({ labels: labels.optional() });

/**
 * Istio's StringMatch: at most one of exact, prefix or (RE2) regex. Empty (`{}`) means "any
 * value": for a header, that it is present.
 */
export const stringMatch = z
  .strictObject({ exact: z.string().optional(), prefix: z.string().optional(), regex: re2Regex.optional() })
  .superRefine((m, ctx) => {
    const set = [m.exact, m.prefix, m.regex].filter((v) => v !== undefined).length;
    if (set > 1) ctx.addIssue({ code: 'custom', message: 'at most one of exact, prefix or regex may be set' });
  });

/**
 * A host as Istio's networking API names one: a short name, an FQDN or a `*.`-prefixed
 * wildcard. `allowAll` admits the bare `*`.
 */
export function hostName(options: { allowAll?: boolean } = {}) {
  return z.string().superRefine((host, ctx) => {
    if (host === '*') {
      if (!options.allowAll) ctx.addIssue({ code: 'custom', message: 'the wildcard host * is not allowed here' });
      return;
    }
    const name = host.startsWith('*.') ? host.slice(2) : host;
    if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/i.test(name) || name.length > 253) {
      ctx.addIssue({ code: 'custom', message: `not a host name: ${JSON.stringify(host)} (a name, an FQDN or *.suffix)` });
    }
  });
}

/** `exportTo`: `.` (own namespace), `*` (all), `~` (none) or namespace names; `~` stands alone. */
export const exportTo = z
  .array(z.string().regex(/^(\.|\*|~|[a-z0-9]([-a-z0-9]*[a-z0-9])?)$/, 'expected ".", "*", "~" or a namespace name'))
  .superRefine((list, ctx) => {
    if (list.includes('~') && list.length > 1) ctx.addIssue({ code: 'custom', message: '"~" (export to none) cannot be combined with other entries' });
  });

/** An IP address or a CIDR block, IPv4 or IPv6. */
export const ipOrCidr = z.string().superRefine((text, ctx) => {
  const [address = '', bits, extra] = text.split('/');
  const family = isIP(address);
  const max = family === 6 ? 128 : 32;
  const okBits = bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= max);
  if (family === 0 || !okBits || extra !== undefined) ctx.addIssue({ code: 'custom', message: `not an IP address or CIDR block: ${JSON.stringify(text)}` });
});

/** A list whose entries are non-empty (an empty string in a match list matches nothing and is a typo). */
export function nonEmptyStrings() {
  return z.array(z.string().min(1, 'must not be empty'));
}

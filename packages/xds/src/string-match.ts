import { RE2JS } from 're2js';

/** Envoy's `type.matcher.v3.StringMatcher` as protobufjs decodes it (snake_case). */
export interface StringMatcherMessage {
  exact?: string;
  prefix?: string;
  suffix?: string;
  contains?: string;
  safe_regex?: { regex?: string } | null;
  ignore_case?: boolean;
}

export type StringMatch = (value: string) => boolean;

/**
 * Envoy refuses a `safe_regex` whose compiled RE2 program is larger than this
 * (`re2.max_program_size.error_level`, default 100); so do we. Matching costs program size
 * times input length, so this bounds what one matcher may cost per value.
 */
export const MAX_REGEX_PROGRAM_SIZE = 100;

/** Longer patterns are refused before parsing; any pattern within the program size fits. */
export const MAX_REGEX_LENGTH = 1024;

/**
 * Compiles a StringMatcher the way Envoy applies it: `exact`/`prefix`/`suffix`/`contains`,
 * folded to lower case with `ignore_case`, or `safe_regex` as RE2 matching the whole value
 * (`ignore_case` does not apply to it, as in Envoy). RE2 runs in time linear in the input,
 * so a matcher from an untrusted caller cannot stall the process the way a backtracking
 * JavaScript RegExp would (`(a+)+b`). Returns the reason when the matcher is unusable.
 */
export function compileStringMatch(m: StringMatcherMessage): StringMatch | { readonly error: string } {
  const fold = m.ignore_case ? (s: string) => s.toLowerCase() : (s: string) => s;
  if (m.exact !== undefined) {
    const want = fold(m.exact);
    return (v) => fold(v) === want;
  }
  if (m.prefix !== undefined) {
    const want = fold(m.prefix);
    return (v) => fold(v).startsWith(want);
  }
  if (m.suffix !== undefined) {
    const want = fold(m.suffix);
    return (v) => fold(v).endsWith(want);
  }
  if (m.contains !== undefined) {
    const want = fold(m.contains);
    return (v) => fold(v).includes(want);
  }
  const regex = m.safe_regex?.regex;
  if (regex !== undefined) {
    if (regex.length > MAX_REGEX_LENGTH) return { error: `regex is longer than ${MAX_REGEX_LENGTH} characters` };
    let re: RE2JS;
    try {
      re = RE2JS.compile(regex);
    } catch (err) {
      return { error: `invalid RE2 regex: ${err instanceof Error ? err.message : String(err)}` };
    }
    const size = re.programSize();
    if (size > MAX_REGEX_PROGRAM_SIZE) {
      return { error: `regex program size ${size} is over the limit of ${MAX_REGEX_PROGRAM_SIZE}` };
    }
    return (v) => re.matches(v);
  }
  return { error: 'matcher has no pattern (exact, prefix, suffix, contains or safe_regex)' };
}

/** `s` as an RE2 pattern that matches exactly `s`. */
export function escapeRegex(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');
}

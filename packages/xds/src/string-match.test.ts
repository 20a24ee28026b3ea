import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileStringMatch, MAX_REGEX_LENGTH, type StringMatch, type StringMatcherMessage } from './string-match.ts';

function compiled(m: StringMatcherMessage): StringMatch {
  const match = compileStringMatch(m);
  assert.equal(typeof match, 'function', `compiles: ${JSON.stringify(match)}`);
  return match as StringMatch;
}

function refused(m: StringMatcherMessage): string {
  const match = compileStringMatch(m);
  assert.ok(typeof match !== 'function', `refused: ${JSON.stringify(m)}`);
  return match.error;
}

describe('compileStringMatch', () => {
  it('matches exact, prefix, suffix and contains, folding case only with ignore_case', () => {
    assert.equal(compiled({ exact: 'Sidecar~a' })('sidecar~a'), false);
    assert.equal(compiled({ exact: 'Sidecar~a', ignore_case: true })('sidecar~A'), true);
    assert.equal(compiled({ prefix: 'sidecar~' })('sidecar~10.0.0.1'), true);
    assert.equal(compiled({ suffix: '.svc.cluster.local' })('x~demo.svc.cluster.local'), true);
    assert.equal(compiled({ contains: '~demo.' })('sidecar~1~a.demo~demo.svc'), true);
    assert.equal(compiled({ contains: 'DEMO', ignore_case: true })('a.demo'), true);
    assert.equal(compiled({ prefix: '' })('anything'), true, 'an empty prefix matches everything, as in Envoy');
  });

  it('matches safe_regex against the whole value, with RE2 syntax', () => {
    const re = compiled({ safe_regex: { regex: 'sidecar~10\\.0\\.0\\.[0-9]+~.*' } });
    assert.equal(re('sidecar~10.0.0.7~a.demo~demo.svc.cluster.local'), true);
    assert.equal(re('xsidecar~10.0.0.7~a'), false, 'anchored at the start');
    assert.equal(compiled({ safe_regex: { regex: 'a' } })('ab'), false, 'anchored at the end');
    assert.equal(compiled({ safe_regex: { regex: '(?i)abc' } })('ABC'), true, 'RE2 flags');
    assert.equal(compiled({ safe_regex: { regex: '\\pL+' } })('Zürich'), true, 'RE2 Unicode classes');
  });

  it('runs in time linear in the input: a pattern that makes a backtracking engine explode is just a miss', () => {
    // A JavaScript RegExp takes about 4 s for 30 characters here, doubling with each one.
    const re = compiled({ safe_regex: { regex: '(a+)+b' } });
    assert.equal(re('a'.repeat(100_000)), false);
    assert.equal(re(`${'a'.repeat(100_000)}b`), true);
  });

  it('refuses what RE2 does not have, and programs or patterns over the limits, with the reason', () => {
    assert.match(refused({ safe_regex: { regex: '(a)\\1' } }), /invalid RE2 regex: .*\\1/);
    assert.match(refused({ safe_regex: { regex: 'a(?=b)' } }), /invalid RE2 regex: .*\(\?=/);
    assert.match(refused({ safe_regex: { regex: '(' } }), /invalid RE2 regex/);
    assert.match(refused({ safe_regex: { regex: 'a{1001}' } }), /invalid RE2 regex: .*repeat/);
    assert.match(refused({ safe_regex: { regex: '[a-z]{200}' } }), /program size \d+ is over the limit of 100/);
    assert.match(refused({ safe_regex: { regex: 'a'.repeat(MAX_REGEX_LENGTH + 1) } }), /longer than 1024 characters/);
    assert.match(refused({}), /no pattern/);
    assert.match(refused({ safe_regex: {} }), /no pattern/);
  });
});

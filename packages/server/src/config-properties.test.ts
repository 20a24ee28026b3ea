/**
 * Properties of config loading for any file content: the result is a config or a
 * ConfigError that names the file and, for each problem, the field (`path: reason`), never
 * another exception. Inputs are small and aliases are expanded by yaml only up to its own
 * count limit, so each case runs in bounded time.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { ConfigError, parseConfig } from './config.ts';

let tmp = '';
let file = '';

before(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'meridian-config-prop-'));
  mkdirSync(path.join(tmp, 'east'));
  file = path.join(tmp, 'meridian.yaml');
});

after(() => rmSync(tmp, { recursive: true, force: true }));

const VALID = {
  trustDomain: 'cluster.local',
  listen: { xds: '127.0.0.1:15010', xdsTls: '127.0.0.1:15012', http: '127.0.0.1:15014' },
  ca: { dir: './ca', defaultTtlSeconds: 3600 },
  debounce: { quietMs: 100, maxMs: 1000 },
  clusters: [{ id: 'east', network: 'net-east', manifests: './east' }],
  log: { level: 'info' },
};

/** A problem names a field (`a.b[0].c: ...`), the file itself (`(file): ...`), the root, or an env var. */
const PROBLEM = /^((\(file\)|\(root\)|MERIDIAN_[A-Z_]+|[A-Za-z_$][\w$]*(\[\d+\]|\.[^\s:]+)*): \S)/;

function check(text: string): void {
  try {
    parseConfig(text, file, {});
  } catch (err) {
    assert.ok(err instanceof ConfigError, `only ConfigError escapes, got ${String(err)}`);
    assert.ok(err.message.startsWith(`invalid config ${file}:\n`), err.message);
    assert.ok(err.problems.length > 0);
    for (const p of err.problems) assert.match(p, PROBLEM);
  }
}

const token = fc.constantFrom(
  'clusters:\n', '  - id: east\n', '    manifests: ./east\n', '    kubeconfig: in-cluster\n', 'listen:\n', '  xds: ', '127.0.0.1:99999', '[::1]:1',
  'ca:\n', '  dir: ', 'debounce: {quietMs: -1}\n', 'log: {level: loud}\n', '&a ', '*a', '<<: *a\n', '- ', ': ', '{', '}', '[', ']', '\n', '  ',
  '"', "'", '|', '#', '---\n', '!!binary ', '~', '1e400', 'true', '0x10',
);

/** The valid config with one field, at any depth, replaced by any JSON value (or removed). */
const withField = (() => {
  const paths: string[][] = [];
  const walk = (value: unknown, at: string[]) => {
    if (value === null || typeof value !== 'object') return;
    for (const [k, v] of Object.entries(value)) {
      paths.push([...at, k]);
      walk(v, [...at, k]);
    }
  };
  walk(VALID, []);
  return fc.tuple(fc.constantFrom(...paths), fc.option(fc.jsonValue({ maxDepth: 2 }), { nil: undefined })).map(([at, value]) => {
    const copy = structuredClone(VALID) as Record<string, unknown>;
    let target = copy;
    for (const k of at.slice(0, -1)) target = target[k] as Record<string, unknown>;
    const key = at.at(-1) ?? '';
    if (value === undefined) delete target[key];
    else target[key] = value;
    return stringify(copy);
  });
})();

describe('parseConfig, for any input', () => {
  it('accepts the valid config the properties start from', () => {
    assert.equal(parseConfig(stringify(VALID), file, {}).clusters[0]?.id, 'east');
  });

  for (const [name, input] of [
    ['any text', fc.string({ unit: 'binary', maxLength: 400 })],
    ['YAML-like token soup', fc.array(token, { maxLength: 50 }).map((t) => t.join(''))],
    ['any JSON document', fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v))],
    ['the valid config with one field replaced or removed', withField],
  ] as const) {
    it(`${name}: a config, or a ConfigError naming the file and each field`, () => {
      fc.assert(fc.property(input, check), { numRuns: 300 });
    });
  }

  it('names the very field that was given a wrong type', () => {
    const fields = fc.constantFrom(
      { at: ['debounce', 'quietMs'], problem: 'debounce.quietMs: ' },
      { at: ['listen', 'xds'], problem: 'listen.xds: ' },
      { at: ['trustDomain'], problem: 'trustDomain: ' },
      { at: ['log', 'level'], problem: 'log.level: ' },
    );
    const wrong = fc.oneof(fc.constant(null), fc.boolean(), fc.array(fc.integer(), { maxLength: 2 }), fc.object({ maxDepth: 1 }));
    fc.assert(
      fc.property(fields, wrong, ({ at, problem }, value) => {
        const copy: Record<string, unknown> = structuredClone(VALID);
        const [first = '', second] = at;
        if (second === undefined) copy[first] = value;
        else (copy[first] as Record<string, unknown>)[second] = value;
        assert.throws(
          () => parseConfig(stringify(copy), file, {}),
          (err: unknown) => err instanceof ConfigError && err.problems.some((p) => p.startsWith(problem)),
        );
      }),
      { numRuns: 100 },
    );
  });
});

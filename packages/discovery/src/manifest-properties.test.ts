/**
 * Properties of manifest reading for any text an outsider can put in a manifest directory:
 * it never throws anything but a ManifestError that names the document (and, for a schema
 * problem, the kind and field), the sliced parser agrees with the one-shot one, and a source
 * fed such files keeps serving the others. Inputs are small, so each case runs in bounded
 * time; structures that grow by aliases are refused by count, not by time.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { silentLogger } from '@meridian/model';
import { stringify } from 'yaml';
import { ClusterRegistry } from './cluster-registry.ts';
import { ManifestError, parseManifest, parseManifestInSlices, type ParsedManifest } from './manifest-parser.ts';
import { ManifestDirectorySource } from './manifest-source.ts';

const SERVICE = {
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: 'echo', namespace: 'apps', labels: { app: 'echo' } },
  spec: { ports: [{ name: 'grpc', port: 7070, protocol: 'TCP' }] },
};
const SLICE = {
  apiVersion: 'discovery.k8s.io/v1',
  kind: 'EndpointSlice',
  metadata: { name: 'echo-1', namespace: 'apps', labels: { 'kubernetes.io/service-name': 'echo' } },
  addressType: 'IPv4',
  ports: [{ name: 'grpc', port: 7070 }],
  endpoints: [{ addresses: ['10.0.0.1'], conditions: { ready: true }, nodeName: 'n1', zone: 'z1' }],
};
const VALID = `${stringify(SERVICE)}---\n${stringify(SLICE)}`;

/** Pieces of YAML syntax, so random text often gets deep into the parser, not only the lexer. */
const token = fc.constantFrom(
  '---\n', '...\n', '- ', ': ', '? ', '{', '}', '[', ']', ', ', '\n', '  ', '\t', '#c', '&a ', '*a', '!!str ', '!!binary ', '!tag ',
  '"', "'", '|', '>-', '\\', '%YAML 1.2\n', 'kind: Service\n', 'kind: EndpointSlice\n', 'apiVersion: v1\n', 'apiVersion: discovery.k8s.io/v1\n',
  'metadata:\n  name: x\n', 'addressType: IPv4\n', 'endpoints:\n', 'ports:\n', 'port: 70000', 'port: 80', 'null', '~', '0x1F', '1e400', '<<: *a\n',
);
const yamlish = fc.array(token, { maxLength: 60 }).map((parts) => parts.join(''));

/** A valid manifest with characters inserted or removed at random places. */
const mutated = fc
  .array(fc.tuple(fc.nat({ max: VALID.length }), fc.nat({ max: 8 }), fc.string({ maxLength: 4 })), { minLength: 1, maxLength: 6 })
  .map((edits) => edits.reduce((text, [at, cut, insert]) => text.slice(0, at) + insert + text.slice(at + cut), VALID));

/** A valid object with one field (at any depth) replaced by any JSON value. */
function withField(object: Record<string, unknown>): fc.Arbitrary<{ text: string; kind: string }> {
  const paths: string[][] = [];
  const walk = (value: unknown, at: string[]) => {
    if (value === null || typeof value !== 'object') return;
    for (const [k, v] of Object.entries(value)) {
      paths.push([...at, k]);
      walk(v, [...at, k]);
    }
  };
  walk(object, []);
  return fc.tuple(fc.constantFrom(...paths), fc.jsonValue({ maxDepth: 2 })).map(([at, value]) => {
    const copy = structuredClone(object);
    let target = copy as Record<string, unknown>;
    for (const k of at.slice(0, -1)) target = target[k] as Record<string, unknown>;
    target[at.at(-1) ?? ''] = value;
    return { text: stringify(copy), kind: String(object['kind']) };
  });
}

type Outcome = { ok: ParsedManifest } | { error: ManifestError };

function outcome(parse: () => ParsedManifest): Outcome {
  try {
    return { ok: parse() };
  } catch (err) {
    assert.ok(err instanceof ManifestError, `only ManifestError escapes, got ${String(err)}`);
    return { error: err };
  }
}

function assertClearError(error: ManifestError, text: string): void {
  // Every document starts on a line of its own.
  const lines = text.split('\n').length;
  assert.ok(Number.isInteger(error.document) && error.document >= 1 && error.document <= lines, `document ${error.document} of ${lines} lines`);
  assert.ok(error.reason.length > 0 && !error.reason.includes('\n'), `one-line reason: ${error.reason}`);
  assert.equal(error.message, `document ${error.document}: ${error.reason}`);
}

describe('manifest parsing, for any input', () => {
  for (const [name, input] of [
    ['any text', fc.string({ unit: 'binary', maxLength: 400 })],
    ['YAML-like token soup', yamlish],
    ['a valid manifest with random edits', mutated],
  ] as const) {
    it(`${name}: parses or fails with a ManifestError naming the document`, () => {
      fc.assert(
        fc.property(input, (text) => {
          const result = outcome(() => parseManifest(text));
          if ('error' in result) assertClearError(result.error, text);
        }),
        { numRuns: 300 },
      );
    });
  }

  it('a field of any type in a Service or EndpointSlice: accepted, or refused naming the kind and that field', () => {
    fc.assert(
      fc.property(fc.oneof(withField(SERVICE), withField(SLICE)), ({ text, kind }) => {
        const result = outcome(() => parseManifest(text));
        if (!('error' in result)) return;
        assertClearError(result.error, text);
        assert.match(result.error.reason, new RegExp(`^(${kind}: .+: .|apiVersion: |kind: |expected a mapping)`));
      }),
      { numRuns: 300 },
    );
  });

  it('the sliced parser gives the same objects or the same error as the one-shot parser', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(yamlish, mutated), async (text) => {
        const once = outcome(() => parseManifest(text));
        let sliced: Outcome;
        try {
          sliced = { ok: await parseManifestInSlices(text, 0) };
        } catch (err) {
          assert.ok(err instanceof ManifestError, String(err));
          sliced = { error: err };
        }
        assert.deepEqual(sliced, once);
      }),
      { numRuns: 150 },
    );
  });

  it('refuses a document that multiplies itself through aliases, naming the document', () => {
    const laughs = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let i = 1; i < 9; i++) laughs.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9).fill(`*${String.fromCharCode(96 + i)}`).join(',')}]`);
    const text = `${stringify(SERVICE)}---\napiVersion: v1\nkind: Node\nmetadata: {name: n1}\n${laughs.join('\n')}\n`;
    const result = outcome(() => parseManifest(text));
    assert.ok('error' in result, 'refused');
    assert.equal(result.error.document, 2);
    assert.match(result.error.reason, /alias/i);
  });
});

describe('ManifestDirectorySource, for any file content', () => {
  it('keeps serving the other files and reports a bad file with its document', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'meridian-manifest-prop-'));
    try {
      await writeFile(path.join(dir, 'good.yaml'), VALID);
      await fc.assert(
        fc.asyncProperty(fc.oneof(fc.string({ unit: 'binary', maxLength: 300 }), yamlish, mutated), async (text) => {
          const file = path.join(dir, 'fuzz.yaml');
          await writeFile(file, text);
          const registry = new ClusterRegistry({ cluster: 'east', network: 'net-east', domainSuffix: 'cluster.local', logger: silentLogger() });
          const source = new ManifestDirectorySource({ directory: dir, registry, logger: silentLogger() });
          await source.start();
          await source.stop();
          const status = source.status().files.find((f) => f.file === file);
          assert.ok(status, 'the file is listed');
          const expected = outcome(() => parseManifest(text));
          if ('error' in expected) {
            assert.deepEqual([status.error?.document, status.error?.reason], [expected.error.document, expected.error.reason]);
          } else {
            assert.deepEqual([status.objects, status.error], [expected.ok.objects.length, undefined]);
          }
          assert.ok(registry.service('echo.apps.svc.cluster.local'), 'the good file still serves');
        }),
        { numRuns: 40 },
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

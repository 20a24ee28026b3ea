/** Which access-log providers a workload gets from Telemetry resources and the config's defaults. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import type { PolicyObjectOf } from '../policy-object.ts';
import { PolicyStore } from '../policy-store.ts';
import { compileTelemetry } from './compile-telemetry.ts';

function compile(text: string, defaults: string[] = ['stdout']) {
  const store = new PolicyStore();
  store.replace('c1', parseAllDocuments(text).map((d, i) => ({ value: d.toJS() as unknown, origin: `#${i}` })));
  assert.deepEqual(store.statuses().flatMap((s) => s.errors), []);
  const objects = store.objects().filter((o): o is PolicyObjectOf<'Telemetry'> => o.kind === 'Telemetry');
  return compileTelemetry(objects, {
    rootNamespace: 'meridian-system',
    providers: ['stdout', 'audit-file'],
    defaultAccessLogging: defaults,
    tracingProviders: ['otel', 'zipkin-ish'],
    defaultTracing: { samplingPercent: 1 },
  });
}

const t = (name: string, ns: string, spec: string) => `---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: ${name}, namespace: ${ns} }
spec:
${spec}
`;

const API = { namespace: 'shop', labels: { app: 'api' } };
const WEB = { namespace: 'shop', labels: { app: 'web' } };
const OTHER = { namespace: 'bank', labels: {} };

describe('Telemetry accessLogging', () => {
  it('without a Telemetry, the config defaults log both ways', () => {
    assert.deepEqual(compile('').telemetry.accessLoggingFor(API), { client: ['stdout'], server: ['stdout'] });
    assert.deepEqual(compile('', []).telemetry.accessLoggingFor(API), { client: [], server: [] });
  });

  it('the most specific Telemetry decides: workload over namespace over mesh', () => {
    const { telemetry, problems } = compile(
      t('mesh', 'meridian-system', '  accessLogging: [{ providers: [{ name: audit-file }] }]') +
        t('shop', 'shop', '  accessLogging: [{ disabled: true }]') +
        t('api', 'shop', '  selector: { matchLabels: { app: api } }\n  accessLogging: [{ match: { mode: SERVER }, providers: [{ name: stdout }, { name: audit-file }] }]'),
    );
    assert.deepEqual(problems, []);
    assert.deepEqual(telemetry.accessLoggingFor(API), { client: [], server: ['audit-file', 'stdout'] });
    assert.deepEqual(telemetry.accessLoggingFor(WEB), { client: [], server: [] }, 'the namespace turns logging off');
    assert.deepEqual(telemetry.accessLoggingFor(OTHER), { client: ['audit-file'], server: ['audit-file'] }, 'the mesh-wide one elsewhere');
  });

  it('disabled removes what an earlier entry of the same resource added, per direction', () => {
    const { telemetry } = compile(t('mesh', 'meridian-system', '  accessLogging:\n  - providers: [{ name: stdout }, { name: audit-file }]\n  - match: { mode: CLIENT }\n    disabled: true\n    providers: [{ name: stdout }]'));
    assert.deepEqual(telemetry.accessLoggingFor(API), { client: ['audit-file'], server: ['audit-file', 'stdout'] });
  });

  it('tracing: the closest Telemetry decides per direction; disableSpanReporting turns one off; tags carry over', () => {
    const { telemetry, problems } = compile(
      t('mesh', 'meridian-system', '  tracing: [{ providers: [{ name: otel }], randomSamplingPercentage: 10 }]') +
        t('api', 'shop', '  selector: { matchLabels: { app: api } }\n  tracing:\n  - match: { mode: CLIENT }\n    disableSpanReporting: true\n  - providers: [{ name: otel }, { name: zipkin-ish }]\n    randomSamplingPercentage: 100\n    customTags: { team: { literal: { value: shop } }, user: { header: { name: x-user, defaultValue: none } } }'),
    );
    assert.deepEqual(telemetry.tracingFor(WEB), { client: { provider: 'otel', samplingPercent: 10, customTags: [] }, server: { provider: 'otel', samplingPercent: 10, customTags: [] } });
    assert.deepEqual(telemetry.tracingFor(API), {
      server: { provider: 'otel', samplingPercent: 100, customTags: [{ tag: 'team', literal: 'shop' }, { tag: 'user', header: { name: 'x-user', defaultValue: 'none' } }] },
    });
    assert.deepEqual(problems.map((p) => p.path), ['spec.tracing[1].providers[1]'], 'one tracer per proxy: the second provider is reported');
    assert.deepEqual(
      compile(t('both', 'shop', '  accessLogging: [{}]\n  tracing: [{}]')).limits.map((l) => [l.client, l.omit]),
      [['grpc', ['spec.accessLogging (proxyless gRPC has no access logs)', 'spec.tracing (proxyless gRPC is not traced)']]],
      'proxyless gRPC gets neither: reported per client kind',
    );
    assert.deepEqual(compile('').telemetry.tracingFor(API), {}, 'no default provider: not traced');
  });

  it('reports an unknown provider, a filter and what metrics cannot do; two namespace Telemetries: the first by name applies', () => {
    const { telemetry, problems } = compile(
      t('a', 'shop', '  accessLogging: [{ providers: [{ name: nowhere }], filter: { expression: "response.code >= 400" } }]\n  metrics: [{ providers: [{ name: stackdriver }], overrides: [{ disabled: true }, { match: { metric: REQUEST_COUNT }, tagOverrides: { bad-name: { value: "1" }, y: {}, z: { value: "request.host" } } }] }]') +
        t('b', 'shop', '  accessLogging: [{ providers: [{ name: stdout }] }]'),
    );
    assert.deepEqual(
      problems.map((p) => `${p.ref.name} ${p.path} ${p.severity}`),
      [
        'a spec.metrics[0].providers[0] part',
        'a spec.metrics[0].overrides[1].tagOverrides.bad-name part',
        'a spec.metrics[0].overrides[1].tagOverrides.y part',
        'a spec.accessLogging[0].providers[0] part',
        'b spec.accessLogging warning',
      ],
    );
    assert.deepEqual(telemetry.accessLoggingFor(API), { client: [], server: [] }, 'a applies, and names no provider Meridian has');
  });

  it('a filter expression goes with the providers its entry adds', () => {
    const { telemetry, problems } = compile(t('errors', 'shop', '  accessLogging: [{ providers: [{ name: stdout }], filter: { expression: "response.code >= 400" } }]'));
    assert.deepEqual(problems, []);
    assert.deepEqual(telemetry.accessLoggingFor(API), { client: ['stdout'], server: ['stdout'], filters: { client: { stdout: 'response.code >= 400' }, server: { stdout: 'response.code >= 400' } } });
  });

  it('filters are per direction: an unfiltered server entry beside a filtered client one keeps each', () => {
    const { telemetry } = compile(
      t('mixed', 'shop', '  accessLogging:\n  - { match: { mode: SERVER }, providers: [{ name: stdout }] }\n  - { match: { mode: CLIENT }, providers: [{ name: stdout }], filter: { expression: "response.code >= 500" } }'),
    );
    assert.deepEqual(telemetry.accessLoggingFor(API).filters, { client: { stdout: 'response.code >= 500' } });
  });

  it('metrics: the closest Telemetry decides which standard metrics each direction leaves out; every one is on by default', () => {
    const { telemetry } = compile(
      t('mesh', 'meridian-system', '  metrics: [{ providers: [{ name: prometheus }], overrides: [{ match: { metric: REQUEST_SIZE }, disabled: true }, { match: { metric: RESPONSE_SIZE }, disabled: true }] }]') +
        t('quiet', 'shop', '  metrics: [{ overrides: [{ match: { mode: CLIENT }, disabled: true }, { match: { metric: REQUEST_COUNT, mode: CLIENT }, disabled: false }] }]'),
    );
    assert.deepEqual(telemetry.metricsFor?.({ namespace: 'other', labels: {} }), { client: { disabled: ['REQUEST_SIZE', 'RESPONSE_SIZE'] }, server: { disabled: ['REQUEST_SIZE', 'RESPONSE_SIZE'] } });
    const shop = telemetry.metricsFor?.(API);
    assert.deepEqual(shop?.server.disabled, [], 'the namespace one decides whole: the mesh one does not add to it');
    assert.deepEqual(shop?.client.disabled, ['REQUEST_DURATION', 'REQUEST_SIZE', 'RESPONSE_SIZE', 'TCP_CLOSED_CONNECTIONS', 'TCP_OPENED_CONNECTIONS', 'TCP_RECEIVED_BYTES', 'TCP_SENT_BYTES'], 'all off as a client, then the request count back on');
    assert.deepEqual(compile('').telemetry.metricsFor?.(API), { client: { disabled: [] }, server: { disabled: [] } });
  });

  it('tagOverrides: per metric and direction, in order, the last edit of a label holds; REMOVE drops a label', () => {
    const { telemetry, problems } = compile(
      t(
        'tags',
        'shop',
        [
          '  metrics:',
          '  - overrides:',
          '    - { tagOverrides: { request_host: { value: "request.host" } } }',
          '    - { match: { metric: REQUEST_COUNT, mode: CLIENT }, tagOverrides: { request_protocol: { operation: REMOVE }, request_host: { value: "request.headers[\'x-host\']" } } }',
          '    - { match: { metric: TCP_SENT_BYTES, mode: SERVER }, tagOverrides: { request_host: { operation: REMOVE } } }',
        ].join('\n'),
      ),
    );
    assert.deepEqual(problems, []);
    const m = telemetry.metricsFor?.(API);
    assert.deepEqual(m?.client.tags?.REQUEST_COUNT, { request_host: "request.headers['x-host']", request_protocol: null });
    assert.deepEqual(m?.server.tags?.REQUEST_COUNT, { request_host: 'request.host' });
    assert.deepEqual(m?.server.tags?.TCP_SENT_BYTES, { request_host: null });
    assert.deepEqual(m?.client.tags?.TCP_SENT_BYTES, { request_host: 'request.host' });
    assert.deepEqual(m?.client.disabled, []);
  });

  it('a tagOverrides value that is not CEL rejects the resource, naming the field', () => {
    const store = new PolicyStore();
    store.replace('c1', parseAllDocuments(t('bad', 'shop', '  metrics: [{ overrides: [{ tagOverrides: { x: { value: "request.host ==" } } }] }]')).map((d, i) => ({ value: d.toJS() as unknown, origin: `#${i}` })));
    const errors = store.statuses().flatMap((s) => s.errors);
    assert.equal(errors.length, 1);
    assert.match(errors[0] ?? '', /^spec\.metrics\[0\]\.overrides\[0\]\.tagOverrides\.x\.value: not a CEL expression/);
    assert.deepEqual(store.objects(), []);
    // REMOVE reads no value (Istio ignores it): whatever it holds is no reason to reject.
    const { problems, telemetry } = compile(t('removal', 'shop', '  metrics: [{ overrides: [{ tagOverrides: { request_protocol: { operation: REMOVE, value: "not cel ((" } } }] }]'));
    assert.deepEqual(problems, []);
    assert.deepEqual(telemetry.metricsFor?.(API).client.tags?.REQUEST_COUNT, { request_protocol: null });
  });
});

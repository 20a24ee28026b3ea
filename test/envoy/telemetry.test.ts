/**
 * Access logs and traces configured by Istio's Telemetry API
 * (https://istio.io/latest/docs/reference/config/telemetry/) on real Envoy sidecars in two
 * clusters. A mesh-wide Telemetry turns on the config's JSON access-log provider and an
 * OpenTelemetry collector (the test's, over OTLP/gRPC): a call from east to west leaves one
 * log line at each end with Istio's field names, the reporter, the reporting side's cluster
 * and namespace, and both principals from the mTLS certificates; and one trace whose server
 * span is the child of the client span, each with its side's cluster. Telemetry changes that
 * disable logging and stop sampling take effect at run time.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { OtlpCollector, RealPeer, realPeersMissing, type CollectedSpan, type Pod } from '@meridian/testkit';
import { EnvoyMesh, type Workload } from '../support/envoy-mesh.ts';
import { eventually } from '../support/eventually.ts';
import { yamlDocs } from '../support/manifests.ts';
import { referencedLabelNames, referencedMetricNames } from '../support/prometheus.ts';
import { build, DEPLOY_DIR } from '../deploy/kustomize.ts';
import { ECHO_PORTS, serviceManifests, sleepAndEcho } from './manifests.ts';

const skip = realPeersMissing([RealPeer.Netns, RealPeer.Iptables, RealPeer.Envoy]);

const ECHO = { vip: '10.96.0.50', host: 'echo.demo.svc.cluster.local' };
const HTTP = ECHO_PORTS.http;
const TCP = ECHO_PORTS.tcp;

const telemetry = (name: string, namespace: string, spec: object) => yamlDocs({ apiVersion: 'telemetry.istio.io/v1', kind: 'Telemetry', metadata: { name, namespace }, spec });
const MESH_DEFAULT = telemetry('mesh-default', 'meridian-system', {
  // The file, and the collector's OTLP logs service.
  accessLogging: [{ providers: [{ name: 'json-stdout' }, { name: 'otel' }] }],
  tracing: [{ providers: [{ name: 'otel' }], randomSamplingPercentage: 100, customTags: { team: { literal: { value: 'payments' } } } }],
});

type Line = Record<string, unknown>;
interface Series {
  readonly labels: Record<string, string>;
  readonly value: number;
}

/** One metric's series from a sidecar's Prometheus output: its admin, or the stats port (15090) as Prometheus scrapes it. */
async function scrape(w: Workload, metric: string, statsPort = false): Promise<Series[]> {
  const text = statsPort ? await (await fetch(`http://${w.pod.address}:15090/stats/prometheus`)).text() : await w.envoy.admin('/stats/prometheus');
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${metric}{`))
    .map((l) => {
      const close = l.lastIndexOf('}');
      const labels = Object.fromEntries([...l.slice(metric.length + 1, close).matchAll(/([a-z_]+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1] ?? '', m[2] ?? '']));
      return { labels, value: Number(l.slice(close + 1).trim()) };
    });
}

/** Every TCP connection from sleep to echo. */
function matching15090(series: Series[]): number {
  return series.filter((s) => s.labels['reporter'] === 'source' && s.labels['destination_service'] === ECHO.host).reduce((n, s) => n + s.value, 0);
}

describe('access logs and traces from Telemetry on Envoy sidecars', { skip }, () => {
  let mesh: EnvoyMesh;
  let sleep: Workload;
  let echo: Workload;
  let collector: OtlpCollector;

  /** The JSON access-log lines a sidecar's Envoy wrote (its stdout, in the process log). */
  const lines = (w: Workload): Line[] =>
    w.envoy.process
      .log()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Line);
  const call = (path: string) => sleep.app.http1({ host: ECHO.vip, port: HTTP.port, authority: `${ECHO.host}:${HTTP.port}`, path, timeoutMs: 5000 });
  const writePolicy = (text: string) => writeFileSync(mesh.ws.path('east', 'telemetry.yaml'), text);
  /** Spans of requests to `path` (Envoy tags each with the request's URL). */
  const spansOf = (path: string): CollectedSpan[] => collector.spans.filter((s) => Object.values(s.attributes).some((v) => v.endsWith(path)));

  before(async () => {
    mesh = new EnvoyMesh();
    mesh.addPods(['sleep-east-0', 'echo-west-0']);
    const at = (name: string): Pod => mesh.pod(name);
    mesh.writeClusterNodes([['east', 'us-east'], ['west', 'us-west']]);
    writeFileSync(
      mesh.ws.path('west', 'services.yaml'),
      serviceManifests({ name: 'echo', namespace: 'demo', vip: ECHO.vip, ports: [HTTP, TCP], cluster: 'west', pods: [{ name: 'echo-west-0', address: at('echo-west-0').address, serviceAccount: 'echo' }] }),
    );
    writePolicy(MESH_DEFAULT);
    collector = await OtlpCollector.start(mesh.bed.network().hostAddress);
    const [collectorHost = '', collectorPort = ''] = collector.address.split(':');
    await mesh.startMeridian({
      namespace: 'meridian-system',
      mtls: { mode: 'strict' },
      telemetry: {
        providers: {
          'json-stdout': { envoyFileAccessLog: { path: '/dev/stdout', format: 'json' } },
          otel: { opentelemetry: { service: collectorHost, port: Number(collectorPort) } },
        },
      },
      clusters: [{ id: 'east', manifests: './east' }, { id: 'west', manifests: './west' }],
    });
    [sleep, echo] = await sleepAndEcho(mesh, ['app=sleep']);
    await eventually('echo answering sleep', async () => ((await call('/warm-up')).status === 200 ? true : undefined), 20_000, 100);
  });

  after(async () => {
    try {
      await mesh.closeChecked();
    } finally {
      collector.stop();
    }
  });

  it('one line at each end of an HTTP call, each naming both sides: workload, namespace, cluster and principal', async () => {
    assert.equal((await call('/hello?x=1')).status, 200);
    const sent = await eventually('the client line', async () => lines(sleep).find((l) => l['path'] === '/hello?x=1'), 5000, 100);
    const received = await eventually('the server line', async () => lines(echo).find((l) => l['path'] === '/hello?x=1'), 5000, 100);
    // Both lines name both sides: the peer's workload and cluster came in the identity exchange.
    const peers = (l: Line) => [l['source_workload'], l['source_workload_namespace'], l['source_cluster'], l['source_principal'], l['destination_workload'], l['destination_cluster'], l['destination_principal']];
    const both = ['sleep', 'demo', 'east', 'spiffe://cluster.local/ns/demo/sa/sleep', 'echo', 'west', 'spiffe://cluster.local/ns/demo/sa/echo'];
    assert.deepEqual([sent['reporter'], sent['response_code'], sent['method']], ['source', 200, 'GET']);
    assert.deepEqual(peers(sent), both);
    assert.deepEqual(peers(received), both);
    assert.match(String(sent['upstream_cluster']), /^outbound\|8080\|\|echo\.demo\.svc\.cluster\.local/);
    assert.deepEqual([received['reporter'], received['response_code'], received['connection_security_policy'], received['destination_service']], ['destination', 200, 'mutual_tls', ECHO.host]);
    assert.equal(sent['request_id'], received['request_id'], 'one request, seen from both ends');
  });

  it('the OpenTelemetry collector gets the same lines as OTLP log records, attributes under the same names', async () => {
    assert.equal((await call('/otlp-logged')).status, 200);
    const records = await eventually('both records at the collector', async () => {
      const found = collector.logs.filter((l) => l.attributes['path'] === '/otlp-logged');
      return found.length >= 2 ? found : undefined;
    }, 10_000, 200);
    const byReporter = new Map(records.map((r) => [r.attributes['reporter'], r]));
    for (const reporter of ['source', 'destination']) {
      const r = byReporter.get(reporter);
      assert.deepEqual([r?.attributes['source_workload'], r?.attributes['source_cluster'], r?.attributes['destination_workload'], r?.attributes['destination_cluster'], r?.attributes['response_code']], ['sleep', 'east', 'echo', 'west', '200'], reporter);
      assert.match(r?.body ?? '', /"GET \/otlp-logged HTTP\/1\.1" 200 /);
    }
  });

  it('TCP connections are logged too, with bytes and principals', async () => {
    assert.equal(await sleep.app.tcp({ host: ECHO.vip, port: TCP.port, data: 'ping' }), 'echo-west-0 ping');
    const tcpLine = (l: Line) => String(l['upstream_cluster']).startsWith(`outbound|${TCP.port}|`);
    const sent = await eventually('the client TCP line', async () => lines(sleep).find(tcpLine), 5000, 100);
    assert.equal(sent['reporter'], 'source');
    assert.equal(sent['destination_principal'], 'spiffe://cluster.local/ns/demo/sa/echo');
    assert.deepEqual([sent['destination_workload'], sent['destination_cluster']], ['echo', 'west'], 'from the endpoint');
    assert.ok(Number(sent['bytes_sent']) > 0);
  });

  it('one trace across the clusters: the server span is the client span\'s child, each with its side\'s cluster and the custom tag', async () => {
    assert.equal((await call('/traced')).status, 200);
    const [client, server] = await eventually(
      'both spans of /traced',
      async () => {
        const spans = spansOf('/traced');
        const c = spans.find((s) => s.kind === 3);
        const sv = spans.find((s) => s.kind === 2);
        return c && sv ? ([c, sv] as const) : undefined;
      },
      15_000,
      200,
    );
    assert.equal(server.traceId, client.traceId, 'W3C trace context carried from east to west');
    assert.equal(server.parentSpanId, client.spanId);
    assert.deepEqual([client.serviceName, client.attributes['source_cluster'], client.attributes['source_namespace'], client.attributes['team']], ['sleep.demo', 'east', 'demo', 'payments']);
    assert.deepEqual([server.serviceName, server.attributes['destination_cluster'], server.attributes['team']], ['echo.demo', 'west', 'payments']);
  });

  it("Istio's workload metrics on both sidecars: each request counted once per side, with both sides' workload, namespace, cluster and principal", async () => {
    const requests = (w: Workload) => scrape(w, 'envoy_istio_requests_total');
    const matching = (series: Series[], want: Record<string, string>) => series.filter((s) => Object.entries(want).every(([k, v]) => s.labels[k] === v)).reduce((n, s) => n + s.value, 0);
    const client = { reporter: 'source', destination_service: ECHO.host, response_code: '200' };
    const server = { reporter: 'destination', destination_service: ECHO.host, response_code: '200' };
    const [clientBefore, serverBefore] = [matching(await requests(sleep), client), matching(await requests(echo), server)];
    // The warm-up may have met a 503 before the config arrived: failures are counted from here too.
    const failed = { client: { ...client, response_code: '503' }, server: { ...server, response_code: '503' } };
    const [clientFailedBefore, serverFailedBefore] = [matching(await requests(sleep), failed.client), matching(await requests(echo), failed.server)];
    const n = 7;
    for (let i = 0; i < n; i++) assert.equal((await call(`/counted/${i}`)).status, 200);
    await echo.app.setStatus(503);
    try {
      for (let i = 0; i < 2; i++) assert.equal((await call(`/failing/${i}`)).status, 503);
    } finally {
      await echo.app.setStatus(200);
    }
    const sent = await eventually('the client counting every request', async () => {
      const series = await requests(sleep);
      return matching(series, client) - clientBefore === n ? series : undefined;
    }, 5000, 100);
    const got = await eventually('the server counting every request', async () => {
      const series = await requests(echo);
      return matching(series, server) - serverBefore === n ? series : undefined;
    }, 5000, 100);
    const labelsOf = (series: Series[], want: Record<string, string>) => series.find((s) => Object.entries(want).every(([k, v]) => s.labels[k] === v))?.labels ?? {};
    const both = {
      source_workload: 'sleep',
      source_workload_namespace: 'demo',
      source_principal: 'spiffe://cluster.local/ns/demo/sa/sleep',
      source_cluster: 'east',
      destination_service: ECHO.host,
      destination_workload: 'echo',
      destination_workload_namespace: 'demo',
      destination_principal: 'spiffe://cluster.local/ns/demo/sa/echo',
      destination_cluster: 'west',
    };
    const pick = (l: Record<string, string>) => Object.fromEntries(Object.keys(both).map((k) => [k, l[k]]));
    assert.deepEqual(pick(labelsOf(sent, client)), both, 'as the client saw it (the peer\'s workload and cluster from the exchange)');
    assert.deepEqual(pick(labelsOf(got, server)), both, 'as the server saw it');
    assert.equal(labelsOf(got, server)['connection_security_policy'], 'mutual_tls');
    // Failures are counted under their code, on both sides: the client once per request, the
    // server once per attempt (the mesh default retries a 503 twice).
    assert.equal(matching(await requests(sleep), failed.client) - clientFailedBefore, 2);
    assert.equal(matching(await requests(echo), failed.server) - serverFailedBefore, 6);
    // The exchange headers never reach the application.
    const { body } = await call('/peek');
    assert.ok(!/x-meridian-peer/.test(body), body);
    // Durations too, with the same labels (histograms show once Envoy merges them, every 5 s).
    await eventually('the durations recorded', async () => (matching(await scrape(sleep, 'envoy_istio_request_duration_milliseconds_count'), client) >= clientBefore + n ? true : undefined), 15_000, 250);
  });

  it('deploy/grafana/mesh-traffic.json reads only metrics and labels the sidecars emit, named as deploy/monitoring-sidecars relabels them', async () => {
    const [monitor] = build(path.join(DEPLOY_DIR, 'monitoring-sidecars')).filter((o) => o.kind === 'PodMonitor');
    const endpoint = (monitor?.['spec'] as { podMetricsEndpoints: Array<{ path: string; targetPort: number; metricRelabelings: Array<{ regex: string; replacement: string }> }> }).podMetricsEndpoints[0];
    assert.equal(endpoint?.path, '/stats/prometheus');
    assert.equal(endpoint?.targetPort, 15090);
    const relabel = endpoint.metricRelabelings[0];
    assert.ok(relabel);
    // Prometheus anchors relabelling regexes; `$1` means the same in JavaScript's replace.
    const rename = (name: string) => name.replace(new RegExp(`^(?:${relabel.regex})$`), relabel.replacement);
    const labelsByMetric = new Map<string, Set<string>>();
    for (const w of [sleep, echo]) {
      const text = await (await fetch(`http://${w.pod.address}:15090/stats/prometheus`)).text();
      for (const line of text.split('\n').filter((l) => l && !l.startsWith('#'))) {
        const name = rename(line.slice(0, line.search(/[{ ]/)));
        const labels = labelsByMetric.get(name) ?? new Set<string>();
        for (const m of line.matchAll(/([a-z_]+)="/g)) labels.add(m[1] ?? '');
        labelsByMetric.set(name, labels);
      }
    }
    const dashboard = JSON.parse(readFileSync(path.join(DEPLOY_DIR, 'grafana', 'mesh-traffic.json'), 'utf8')) as { panels: Array<{ title: string; targets?: Array<{ expr: string }> }>; templating: { list: Array<{ definition?: string }> } };
    const exprs = [...dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)), ...dashboard.templating.list.flatMap((v) => (v.definition ? [v.definition] : []))];
    assert.ok(exprs.length > 8);
    for (const expr of exprs) {
      const metrics = referencedMetricNames(expr);
      assert.ok(metrics.length > 0, expr);
      for (const metric of metrics) {
        const labels = labelsByMetric.get(metric);
        assert.ok(labels, `${metric} is emitted (${expr})`);
        const missing = referencedLabelNames(expr.replace(/^label_values\(([a-z_]+), ([a-z_]+)\)$/, 'by ($2) $1')).filter((l) => !labels.has(l));
        assert.deepEqual(missing, [], `${metric} carries every label ${expr} reads`);
      }
    }
  });

  it('TCP connections counted with bytes, by the stats port Prometheus scrapes (15090)', async () => {
    const opened = async () => matching15090(await scrape(sleep, 'envoy_istio_tcp_connections_opened_total', true));
    const before = await opened();
    assert.equal(await sleep.app.tcp({ host: ECHO.vip, port: TCP.port, data: 'ping' }), 'echo-west-0 ping');
    await eventually('the TCP connection counted', async () => ((await opened()) === before + 1 ? true : undefined), 5000, 100);
    const bytes = await scrape(sleep, 'envoy_istio_tcp_received_bytes_total', true);
    const toEcho = bytes.filter((s) => s.labels['destination_principal'] === 'spiffe://cluster.local/ns/demo/sa/echo' && s.value > 0);
    assert.ok(toEcho.length > 0);
    // No headers on TCP: the client names the server's workload from the endpoint EDS gave it.
    for (const s of toEcho) assert.deepEqual([s.labels['destination_workload'], s.labels['destination_workload_namespace'], s.labels['destination_cluster']], ['echo', 'demo', 'west']);
  });

  it('a filter expression logs only what it holds true for (Envoy\'s CEL, Istio\'s attributes)', async () => {
    writePolicy([MESH_DEFAULT, telemetry('errors-only', 'demo', { accessLogging: [{ providers: [{ name: 'json-stdout' }], filter: { expression: 'response.code >= 400' } }] })].join('---\n'));
    await echo.app.setStatus(503);
    try {
      let n = 0;
      // In effect once a failing request is logged and a succeeding one is not.
      await eventually('only failures logged', async () => {
        const failing = `/filtered-fail-${n}`;
        await call(failing);
        await echo.app.setStatus(200);
        const fine = `/filtered-ok-${n++}`;
        await call(fine);
        await echo.app.setStatus(503);
        await new Promise((r) => setTimeout(r, 500));
        const logged = (path: string) => lines(sleep).some((l) => l['path'] === path);
        return logged(failing) && !logged(fine) ? true : undefined;
      }, 20_000, 100);
    } finally {
      await echo.app.setStatus(200);
    }
  });

  it("tagOverrides edit a metric's labels at run time: one added from Envoy's CEL, one removed, the other side untouched", async () => {
    const tagged = { metrics: [{ overrides: [{ match: { metric: 'REQUEST_COUNT', mode: 'CLIENT' }, tagOverrides: { request_host: { value: 'request.host' }, request_protocol: { operation: 'REMOVE' } } }] }] };
    const servedTotal = async () => (await scrape(echo, 'envoy_istio_requests_total')).reduce((n, s) => n + s.value, 0);
    const servedBefore = await servedTotal();
    assert.ok(servedBefore > 0);
    writePolicy([MESH_DEFAULT, telemetry('tagged', 'demo', tagged)].join('---\n'));
    const authority = `${ECHO.host}:${HTTP.port}`;
    let n = 0;
    const series = await eventually(
      'the request count labelled by host',
      async () => {
        assert.equal((await call(`/tagged/${n++}`)).status, 200);
        const found = (await scrape(sleep, 'envoy_istio_requests_total')).filter((s) => s.labels['request_host'] === authority);
        return found.length ? found : undefined;
      },
      20_000,
      200,
    );
    for (const s of series) {
      assert.equal(s.labels['request_protocol'], undefined, 'removed');
      assert.equal(s.labels['destination_workload'], 'echo', "Istio's other labels stay");
    }
    // Only the request count, and only as a client: requests made now are timed under the
    // standard labels (histograms show once Envoy merges them, every 5 s).
    const timedAsIstio = async () =>
      (await scrape(sleep, 'envoy_istio_request_duration_milliseconds_count')).filter((s) => s.labels['request_protocol'] === 'HTTP/1.1' && s.labels['request_host'] === undefined).reduce((sum, s) => sum + s.value, 0);
    let previous = await timedAsIstio();
    let gained = 0;
    let k = 0;
    await eventually(
      'three more requests timed with request_protocol and without request_host',
      async () => {
        assert.equal((await call(`/tagged-timed/${k++}`)).status, 200);
        const now = await timedAsIstio();
        gained += Math.max(0, now - previous);
        previous = now;
        return gained >= 3 ? true : undefined;
      },
      20_000,
      500,
    );
    // The server's labels are untouched, and its series went on counting through the listener
    // updates (the loggers share one stats scope) rather than restarting from zero.
    const served = await scrape(echo, 'envoy_istio_requests_total');
    assert.ok(served.every((s) => s.labels['request_host'] === undefined), JSON.stringify(served.slice(0, 2)));
    assert.ok((await servedTotal()) > servedBefore, 'no reset across the listener updates');
  });

  it('a namespace Telemetry that disables access logging, sampling and the request count takes effect at run time', async () => {
    assert.ok(lines(sleep).length > 0 && lines(echo).length > 0, 'both were logging');
    const quiet = { accessLogging: [{ disabled: true }], tracing: [{ providers: [{ name: 'otel' }], randomSamplingPercentage: 0 }], metrics: [{ providers: [{ name: 'prometheus' }], overrides: [{ match: { metric: 'REQUEST_COUNT' }, disabled: true }] }] };
    writePolicy([MESH_DEFAULT, telemetry('quiet', 'demo', quiet)].join('---\n'));
    let n = 0;
    await eventually(
      'no more lines from demo',
      async () => {
        const path = `/quiet-${n++}`;
        await call(path);
        // Ten flush intervals of the test bed's Envoy: a line that was written is there by now.
        await new Promise((r) => setTimeout(r, 1000));
        return lines(sleep).some((l) => l['path'] === path) || lines(echo).some((l) => l['path'] === path) ? undefined : true;
      },
      20_000,
      100,
    );
    // Envoy exports spans every 5 s: a span of this call would be at the collector after 6.
    assert.equal((await call('/quiet-final')).status, 200);
    await new Promise((r) => setTimeout(r, 6000));
    assert.deepEqual(spansOf('/quiet-final'), [], 'not sampled');
    assert.ok(!lines(sleep).some((l) => l['path'] === '/quiet-final') && !lines(echo).some((l) => l['path'] === '/quiet-final'), 'not logged');
    // The request count stops on both sides.
    const total = async (w: Workload, metric: string) => (await scrape(w, metric)).reduce((n, s) => n + s.value, 0);
    const [sentBefore, gotBefore] = [await total(sleep, 'envoy_istio_requests_total'), await total(echo, 'envoy_istio_requests_total')];
    for (let i = 0; i < 3; i++) assert.equal((await call(`/uncounted/${i}`)).status, 200);
    assert.deepEqual([await total(sleep, 'envoy_istio_requests_total'), await total(echo, 'envoy_istio_requests_total')], [sentBefore, gotBefore]);
  });
});

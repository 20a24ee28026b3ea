/**
 * Traffic policy compiled for callers: which object applies to which caller and host, what
 * the model says, and what is reported. Semantics follow the upstream references (Istio's
 * VirtualService/DestinationRule docs, Gateway API GEP-1426 for Service parents).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { scopeAllows } from '@meridian/model';
import { PolicyStore } from '../policy-store.ts';
import { compileTraffic } from './traffic-policies.ts';

const SUFFIX = 'cluster.local';
const REVIEWS = 'reviews.bookinfo.svc.cluster.local';

/** The objects of a YAML stream as one cluster holds them, through the store's validation. */
function compile(text: string) {
  const store = new PolicyStore();
  store.replace('c1', parseAllDocuments(text).map((d, i) => ({ value: d.toJS() as unknown, origin: `t.yaml#${i + 1}` })));
  const rejected = store.statuses().filter((s) => s.state !== 'Accepted');
  assert.deepEqual(rejected, [], 'every object valid');
  return compileTraffic(store.objects(), { domainSuffix: SUFFIX });
}

/** A YAML document of one kind: `(name, namespace, spec lines)`. */
const documentOf = (apiVersion: string, kind: string) => (name: string, ns: string, spec: string) => `---
apiVersion: ${apiVersion}
kind: ${kind}
metadata: { name: ${name}, namespace: ${ns} }
spec:
${spec}
`;
const vs = documentOf('networking.istio.io/v1', 'VirtualService');

describe('VirtualService compiled', () => {
  it('short hosts resolve in the object namespace; upstream defaults for weights, fault and mirror percentages', () => {
    const { policies, problems } = compile(
      vs('reviews', 'bookinfo', `  hosts: [reviews]
  http:
  - match: [{ headers: { end-user: { exact: jason }, x-trace: {} }, uri: { prefix: /api } }]
    route: [{ destination: { host: reviews, subset: v2 }, weight: 5 }]
    fault: { abort: { httpStatus: 503 } }
    mirror: { host: reviews, subset: v3 }
  - route:
    - { destination: { host: reviews, subset: v1 }, weight: 90 }
    - { destination: { host: reviews, subset: v3 } }
    - { destination: { host: ratings.other.svc.cluster.local, port: { number: 9080 } }, weight: 10 }
    timeout: 1.5s
    retries: { attempts: 3, perTryTimeout: 250ms, retryOn: 5xx }`) +
        `---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews, namespace: bookinfo }
spec:
  host: reviews
  subsets: [{ name: v1, labels: { version: v1 } }, { name: v2, labels: { version: v2 } }, { name: v3, labels: { version: v3 } }]`,
    );
    assert.deepEqual(problems, []);
    const routes = policies.routesFor(REVIEWS, 9080, { namespace: 'anywhere' });
    assert.ok(routes);
    const [jason, rest] = routes.rules;
    assert.deepEqual(jason?.matches[0]?.headers, [
      { name: 'end-user', match: { exact: 'jason' }, invert: false },
      { name: 'x-trace', match: undefined, invert: false },
    ]);
    assert.deepEqual(jason?.matches[0]?.uri, { prefix: '/api' });
    // A lone destination takes all traffic whatever its weight.
    assert.deepEqual(jason?.action, { type: 'forward', targets: [{ host: REVIEWS, subset: 'v2', weight: 100 }] });
    assert.deepEqual(jason?.fault, { abort: { httpStatus: 503, percent: 100 } });
    assert.deepEqual(jason?.mirrors, [{ target: { host: REVIEWS, subset: 'v3' }, percent: 100 }]);
    // With several, an unset weight is 0 and takes nothing.
    assert.deepEqual(rest?.action, {
      type: 'forward',
      targets: [
        { host: REVIEWS, subset: 'v1', weight: 90 },
        { host: 'ratings.other.svc.cluster.local', port: 9080, weight: 10 },
      ],
    });
    assert.equal(rest?.timeoutMs, 1500);
    assert.deepEqual(rest?.retries, { attempts: 3, perTryTimeoutMs: 250, retryOn: '5xx' });
    assert.equal(rest?.source.path, 'spec.http[1]');
    assert.equal(policies.routesFor('details.bookinfo.svc.cluster.local', 9080, { namespace: 'anywhere' }), undefined);
  });

  it("the caller's own namespace wins over the service's, which wins over others; exportTo hides; hidden objects are reported", () => {
    const route = (to: string) => `  hosts: [${REVIEWS}]\n  http: [{ route: [{ destination: { host: ${to} } }] }]`;
    const { policies, overlaps } = compile(
      vs('producer', 'bookinfo', route('reviews-v1.bookinfo.svc.cluster.local')) +
        vs('consumer', 'frontend', `${route('reviews-v2.bookinfo.svc.cluster.local')}\n  exportTo: ["."]`) +
        vs('a-third', 'elsewhere', route('reviews-v3.bookinfo.svc.cluster.local')) +
        vs('b-second', 'bookinfo', route('reviews-v4.bookinfo.svc.cluster.local')),
    );
    const target = (ns: string) => {
      const action = policies.routesFor(REVIEWS, 9080, { namespace: ns })?.rules[0]?.action;
      return action?.type === 'forward' ? action.targets[0]?.host.split('.')[0] : undefined;
    };
    assert.equal(target('frontend'), 'reviews-v2', 'consumer override');
    assert.equal(target('other'), 'reviews-v4', 'producer namespace, then by name: b-second before producer');
    assert.equal(target('elsewhere'), 'reviews-v3', "the caller's own namespace first");
    const forOthers = overlaps.find((o) => o.callers === '*');
    assert.deepEqual(forOthers?.winner, { kind: 'VirtualService', namespace: 'bookinfo', name: 'b-second' });
    assert.deepEqual(forOthers?.hidden.map((r) => `${r.namespace}/${r.name}`), ['bookinfo/producer', 'elsewhere/a-third']);
  });

  it('an exact host before a wildcard; a VirtualService bound only to gateways is not for the mesh; delegates are refused', () => {
    const { policies, problems } = compile(
      vs('wild', 'bookinfo', `  hosts: ["*.bookinfo.svc.cluster.local"]\n  http: [{ route: [{ destination: { host: wild } }] }]`) +
        vs('exact', 'bookinfo', `  hosts: [reviews]\n  http: [{ route: [{ destination: { host: exact } }] }]`) +
        vs('edge', 'bookinfo', `  hosts: [details]\n  gateways: [ingress]\n  http: [{ route: [{ destination: { host: edge } }] }]`) +
        vs('delegating', 'bookinfo', `  hosts: [ratings]\n  http: [{ delegate: { name: child } }]`),
    );
    assert.equal(policies.routesFor(REVIEWS, 80, { namespace: 'x' })?.source.name, 'exact');
    assert.equal(policies.routesFor('productpage.bookinfo.svc.cluster.local', 80, { namespace: 'x' })?.source.name, 'wild');
    assert.equal(policies.routesFor('details.bookinfo.svc.cluster.local', 80, { namespace: 'x' })?.source.name, 'wild', 'edge is for a gateway');
    assert.equal(policies.routesFor('ratings.bookinfo.svc.cluster.local', 80, { namespace: 'x' })?.source.name, 'wild');
    assert.deepEqual(problems.map((p) => [p.ref.name, p.path, p.severity]), [['delegating', 'spec.http', 'error']]);
  });

  it('a route to a subset no DestinationRule defines is a warning', () => {
    const { problems } = compile(vs('reviews', 'bookinfo', `  hosts: [reviews]\n  http: [{ route: [{ destination: { host: reviews, subset: v9 } }] }]`));
    assert.deepEqual(problems.map((p) => [p.path, p.severity, p.message]), [['spec.http[0]', 'warning', `subset v9 of ${REVIEWS} is defined by no DestinationRule: requests routed to it fail`]]);
  });
});

const httpRoute = documentOf('gateway.networking.k8s.io/v1', 'HTTPRoute');

describe('Gateway API routes compiled (Service parents)', () => {
  it('producer routes apply to every caller, consumer routes to their own namespace only, and override', () => {
    const parent = `  parentRefs: [{ group: "", kind: Service, name: reviews, namespace: bookinfo }]`;
    const { policies } = compile(
      httpRoute('producer', 'bookinfo', `${parent}\n  rules: [{ backendRefs: [{ name: reviews-v1, port: 9080 }] }]`) +
        httpRoute('consumer', 'frontend', `${parent}\n  rules: [{ backendRefs: [{ name: reviews-v2, namespace: bookinfo, port: 9080, weight: 3 }, { name: reviews-v3, namespace: bookinfo, port: 9080 }] }]`),
    );
    const forward = (ns: string) => {
      const action = policies.routesFor(REVIEWS, 9080, { namespace: ns })?.rules[0]?.action;
      return action?.type === 'forward' ? action.targets.map((t) => `${t.host.split('.')[0]}:${t.weight}`) : action;
    };
    assert.deepEqual(forward('other'), ['reviews-v1:1']);
    assert.deepEqual(forward('frontend'), ['reviews-v2:3', 'reviews-v3:1']);
  });

  it('routes of one rank are merged, rules ordered by match precedence; a parentRef port narrows the route; no backend is a 500', () => {
    const parent = (port = '') => `  parentRefs: [{ group: "", kind: Service, name: reviews${port} }]`;
    const { policies } = compile(
      httpRoute('a-prefix', 'bookinfo', `${parent()}\n  rules:\n  - matches: [{ path: { type: PathPrefix, value: /api/ } }]\n    backendRefs: [{ name: prefix, port: 80 }]`) +
        httpRoute('b-exact', 'bookinfo', `${parent()}\n  rules:\n  - matches: [{ path: { type: Exact, value: /api/v1 } }, { path: { type: PathPrefix, value: /api/v1/long } }]\n    backendRefs: [{ name: exact, port: 80 }]`) +
        httpRoute('c-port', 'bookinfo', `${parent(', port: 8443')}\n  rules: [{ backendRefs: [] }]`),
    );
    const rules = policies.routesFor(REVIEWS, 9080, { namespace: 'x' })?.rules ?? [];
    assert.deepEqual(
      rules.map((r) => r.matches[0]?.uri),
      [{ exact: '/api/v1' }, { pathPrefix: '/api/v1/long' }, { pathPrefix: '/api' }],
    );
    const onPort = policies.routesFor(REVIEWS, 8443, { namespace: 'x' });
    assert.equal(onPort?.port, 8443);
    assert.deepEqual(onPort?.rules[0]?.action, { type: 'respond', status: 500 });
  });

  it('GRPCRoute methods become paths; a Gateway parent is reported, not applied', () => {
    const { policies, problems } = compile(`---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: { name: echo, namespace: demo }
spec:
  parentRefs: [{ group: "", kind: Service, name: echo }, { name: edge }]
  rules:
  - matches: [{ method: { service: echo.Echo, method: Call } }, { method: { service: echo.Echo } }, { method: { method: Ping } }]
    backendRefs: [{ name: echo-v2, port: 7070 }]
`);
    const rules = policies.routesFor('echo.demo.svc.cluster.local', 7070, { namespace: 'demo' })?.rules ?? [];
    // Each match takes its own place in the merged order (exact method, then service prefix, then others).
    assert.deepEqual(rules.map((r) => r.matches[0]?.uri), [{ exact: '/echo.Echo/Call' }, { prefix: '/echo.Echo/' }, { regex: '/[^/]+/Ping' }]);
    assert.deepEqual(problems.map((p) => [p.path, p.severity]), [['spec.parentRefs[1]', 'part']]);
  });
});

describe('DestinationRule compiled', () => {
  it('subsets inherit the rule policy field by field; port-level settings override for their port', () => {
    const { policies } = compile(`---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews, namespace: bookinfo }
spec:
  host: reviews
  trafficPolicy:
    loadBalancer: { simple: LEAST_CONN }
    outlierDetection: { consecutive5xxErrors: 5, interval: 10s, baseEjectionTime: 30s }
    portLevelSettings:
    - port: { number: 9443 }
      loadBalancer: { consistentHash: { httpHeaderName: X-User } }
  subsets:
  - { name: v1, labels: { version: v1 } }
  - name: v2
    labels: { version: v2 }
    trafficPolicy: { loadBalancer: { simple: RANDOM } }
`);
    const dr = policies.destinationFor(REVIEWS, { namespace: 'x' });
    assert.ok(dr);
    assert.deepEqual(dr.policy.loadBalancer, { type: 'simple', algorithm: 'LEAST_REQUEST' });
    assert.deepEqual(dr.policy.outlierDetection, { consecutive5xxErrors: 5, intervalMs: 10_000, baseEjectionTimeMs: 30_000 });
    assert.deepEqual(dr.portPolicies.get(9443)?.loadBalancer, { type: 'hash', key: { header: 'x-user' }, ring: 'ring' });
    assert.deepEqual(dr.portPolicies.get(9443)?.outlierDetection, dr.policy.outlierDetection);
    assert.deepEqual(dr.subsets.get('v1')?.policy, dr.policy);
    assert.deepEqual(dr.subsets.get('v2')?.policy.loadBalancer, { type: 'simple', algorithm: 'RANDOM' });
    assert.deepEqual(dr.subsets.get('v2')?.labels, { version: 'v2' });
  });

  it('a rule for selected client workloads is refused rather than applied to every caller', () => {
    const { policies, problems } = compile(`---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews, namespace: bookinfo }
spec:
  host: reviews
  workloadSelector: { matchLabels: { app: productpage } }
  trafficPolicy: { loadBalancer: { simple: RANDOM } }
`);
    assert.equal(policies.destinationFor(REVIEWS, { namespace: 'bookinfo' }), undefined);
    assert.deepEqual(problems.map((p) => [p.path, p.severity]), [['spec.workloadSelector', 'error']]);
  });
});

describe('what each client kind honours', () => {
  it('gRPC: a rule that would match more than written is for Envoy only; what gRPC merely skips is listed as ignored', () => {
    const { policies } = compile(
      vs('reviews', 'bookinfo', `  hosts: [reviews]
  http:
  - match: [{ queryParams: { debug: { exact: "1" } } }]
    route: [{ destination: { host: reviews } }]
  - match: [{ headers: { x-canary: { exact: "true" } } }]
    route: [{ destination: { host: reviews }, headers: { request: { set: { x-a: b } } } }]
    mirror: { host: shadow }
    retries: { attempts: 2, retryOn: "unavailable,5xx" }
  - redirect: { uri: /v2 }
  - route: [{ destination: { host: reviews } }]
    timeout: 2s
    fault: { delay: { fixedDelay: 1s, percentage: { value: 10 } } }`),
    );
    const rules = policies.routesFor(REVIEWS, 9080, { namespace: 'x' })?.rules ?? [];
    assert.deepEqual(rules.map((r) => r.limits.envoy), [undefined, undefined, undefined, undefined], 'Envoy honours everything');
    assert.deepEqual(rules[0]?.limits.grpc?.omit, ['match[0].queryParams: gRPC has no query parameters; the rule would match every request']);
    assert.deepEqual(rules[1]?.limits.grpc, {
      omit: [],
      ignored: ['mirror: gRPC clients do not mirror', 'headers: gRPC clients do not edit headers', 'retries.retryOn: not gRPC status conditions: 5xx'],
    });
    assert.deepEqual(rules[2]?.limits.grpc?.omit, ['redirect: gRPC clients reject redirects']);
    assert.deepEqual(rules[3]?.limits, {}, 'timeouts and fault injection are gRPC features too (A31, A33)');
  });

  it('gRPC: load balancers it lacks fall back to its default; consecutive-error outlier detection is ignored', () => {
    const { policies } = compile(`---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews, namespace: bookinfo }
spec:
  host: reviews
  trafficPolicy:
    loadBalancer: { simple: LEAST_REQUEST }
    outlierDetection: { consecutive5xxErrors: 3 }
  subsets:
  - name: sticky
    labels: { version: v1 }
    trafficPolicy: { loadBalancer: { consistentHash: { httpHeaderName: x-user } }, outlierDetection: {} }
`);
    const dr = policies.destinationFor(REVIEWS, { namespace: 'x' });
    assert.deepEqual(dr?.policy.limits.grpc, {
      omit: ["loadBalancer.simple: gRPC clients do not support LEAST_REQUEST; they keep round robin"],
      ignored: ['outlierDetection: gRPC clients eject by success rate or failure percentage only, not by consecutive errors'],
    });
    assert.deepEqual(dr?.subsets.get('sticky')?.policy.limits.grpc?.omit, []);
  });
});

const sidecar = documentOf('networking.istio.io/v1', 'Sidecar');

describe('Sidecar egress scopes', () => {
  // https://istio.io/latest/docs/reference/config/networking/sidecar/
  const { policies, problems } = compile(
    sidecar('default', 'istio-system', '  egress: [{ hosts: ["./*"] }]') +
      sidecar('default', 'bookinfo', '  egress: [{ hosts: ["./*", "istio-system/*", "~/ignored.example.com"] }]') +
      sidecar('ratings', 'bookinfo', '  workloadSelector: { labels: { app: ratings } }\n  egress: [{ hosts: ["*/*.example.com"], port: { number: 80, protocol: HTTP, name: web } }]') +
      sidecar('second', 'bookinfo', '  egress: [{ hosts: ["*/*"] }]'),
  );
  const scope = (namespace: string, labels: Record<string, string> = {}) => policies.egressFor({ namespace, labels });

  it('a selecting Sidecar first, then its namespace default, then the root namespace default', () => {
    assert.equal(scope('bookinfo', { app: 'ratings' })?.source.name, 'ratings');
    assert.equal(scope('bookinfo', { app: 'reviews' })?.source.name, 'default');
    assert.equal(scope('bookinfo', { app: 'reviews' })?.source.namespace, 'bookinfo');
    assert.equal(scope('shop')?.source.namespace, 'istio-system');
  });

  it('hosts: `.` is the Sidecar own namespace, `~` imports nothing, `*` any namespace, `*.suffix` a domain', () => {
    assert.deepEqual(scope('bookinfo')?.hosts, [
      { namespace: 'bookinfo', host: '*' },
      { namespace: 'istio-system', host: '*' },
    ]);
    const svc = (hostname: string, namespace: string) => ({ hostname, namespace });
    const ratings = scope('bookinfo', { app: 'ratings' });
    assert.equal(scopeAllows(ratings, svc('api.example.com', 'ext')), true);
    assert.equal(scopeAllows(ratings, svc(REVIEWS, 'bookinfo')), false);
    assert.equal(scopeAllows(scope('shop'), svc('cart.shop.svc.cluster.local', 'shop')), false, 'the root default `./*` is istio-system itself');
    assert.equal(scopeAllows(undefined, svc(REVIEWS, 'bookinfo')), true);
  });

  it('reports what it does not apply: egress ports, and a second namespace default', () => {
    const messages = problems.map((p) => `${p.ref.name} ${p.path} ${p.severity}`);
    assert.ok(messages.includes('ratings spec.egress[0] part'), messages.join('\n'));
    assert.ok(messages.includes('second spec error'), messages.join('\n'));
  });
});

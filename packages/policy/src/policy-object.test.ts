/**
 * Validation per kind: the upstream reference's own examples are accepted, and each kind of
 * mistake is refused with the path of the field at fault.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { identifyDocument, validatePolicyDocument, type PolicyObject } from './policy-object.ts';

function validate(text: string): { ok: true; value: PolicyObject } | { ok: false; errors: readonly string[] } {
  const value = parse(text) as Record<string, unknown>;
  const identity = identifyDocument(value);
  if (identity === undefined) throw new Error('not a policy document');
  if ('error' in identity) return { ok: false, errors: [identity.error] };
  return validatePolicyDocument(identity.ref, value);
}

function errorsOf(text: string): readonly string[] {
  const result = validate(text);
  assert.equal(result.ok, false, 'expected a rejection');
  return result.ok ? [] : result.errors;
}

function assertAccepted(text: string): PolicyObject {
  const result = validate(text);
  assert.ok(result.ok, result.ok ? '' : result.errors.join('\n'));
  return result.value;
}

const vs = (spec: string) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: bookinfo }
spec:
${spec}`;

describe('policy documents: identity', () => {
  it('kinds of ours under each served version; other kinds and other groups are not ours', () => {
    for (const apiVersion of ['networking.istio.io/v1', 'networking.istio.io/v1beta1', 'networking.istio.io/v1alpha3']) {
      assert.deepEqual(identifyDocument({ apiVersion, kind: 'VirtualService', metadata: { name: 'a' } }), { ref: { kind: 'VirtualService', namespace: 'default', name: 'a' } });
    }
    assert.equal(identifyDocument({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'a' } }), undefined);
    assert.equal(identifyDocument({ apiVersion: 'example.com/v1', kind: 'VirtualService', metadata: { name: 'a' } }), undefined);
    assert.equal(identifyDocument('text'), undefined);
  });

  it('our group under a version we do not serve, or a bad name, is an error naming the field', () => {
    const v = identifyDocument({ apiVersion: 'networking.istio.io/v2', kind: 'DestinationRule', metadata: { name: 'a' } });
    assert.match((v as { error: string }).error, /^apiVersion: DestinationRule is served as networking\.istio\.io\/v1, /);
    const n = identifyDocument({ apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'Bad_Name' } });
    assert.match((n as { error: string }).error, /^metadata\.name: /);
    const ns = identifyDocument({ apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'a', namespace: 7 } });
    assert.match((ns as { error: string }).error, /^metadata\.namespace: /);
  });
});

describe('VirtualService', () => {
  it('accepts the reference examples: header match to a subset, weighted split, retries, timeout, fault, mirror', () => {
    const object = assertAccepted(
      vs(`  hosts: [reviews]
  http:
  - name: jason
    match:
    - headers:
        end-user: { exact: jason }
      uri: { prefix: /ratings/v2/ }
      ignoreUriCase: true
    route:
    - destination: { host: reviews, subset: v2 }
    fault:
      delay: { percentage: { value: 0.1 }, fixedDelay: 5s }
  - route:
    - destination: { host: reviews, subset: v1 }
      weight: 75
    - destination: { host: reviews, subset: v3, port: { number: 9080 } }
      weight: 25
    timeout: 10s
    retries: { attempts: 3, perTryTimeout: 2s, retryOn: "gateway-error,connect-failure" }
    mirror: { host: reviews, subset: v4 }
    mirrorPercentage: { value: 50.0 }
  tcp:
  - match: [{ port: 27017 }]
    route: [{ destination: { host: mongo.backup.svc.cluster.local, port: { number: 5555 } } }]`),
    );
    assert.equal(object.kind, 'VirtualService');
    assert.equal(object.namespace, 'bookinfo');
  });

  it('names the field at fault for each kind of mistake', () => {
    const cases: Array<[string, RegExp]> = [
      [`  hosts: [reviews]\n  http:\n  - route: [{ destination: { host: reviews } }]\n    timout: 10s`, /^spec\.http\[0\]: Unrecognized key: "timout"/],
      [`  hosts: [reviews]\n  http:\n  - route: [{ destination: { host: reviews } }]\n    timeout: 10 seconds`, /^spec\.http\[0\]\.timeout: not a duration/],
      [`  hosts: [reviews]\n  http:\n  - route:\n    - { destination: { host: reviews, subset: v1 }, weight: -5 }\n    - { destination: { host: reviews, subset: v2 }, weight: 10 }`, /^spec\.http\[0\]\.route\[0\]\.weight: /],
      [`  hosts: [reviews]\n  http:\n  - route:\n    - { destination: { host: reviews, subset: v1 }, weight: 0 }\n    - { destination: { host: reviews, subset: v2 } }`, /^spec\.http\[0\]\.route: the weights of several destinations must not all be 0/],
      [`  hosts: [reviews]\n  http:\n  - match: [{ uri: { regex: "(unclosed" } }]\n    route: [{ destination: { host: reviews } }]`, /^spec\.http\[0\]\.match\[0\]\.uri\.regex: not a valid RE2 regex/],
      [`  hosts: [reviews]\n  http:\n  - match: [{ uri: { regex: "(?=lookahead)" } }]\n    route: [{ destination: { host: reviews } }]`, /^spec\.http\[0\]\.match\[0\]\.uri\.regex: not a valid RE2 regex/],
      [`  hosts: [reviews]\n  http:\n  - match: [{ headers: { x-user: { exact: a, prefix: b } } }]\n    route: [{ destination: { host: reviews } }]`, /^spec\.http\[0\]\.match\[0\]\.headers\["x-user"\]: at most one of exact, prefix or regex/],
      [`  hosts: [reviews]\n  http:\n  - route: [{ destination: { host: reviews } }]\n    redirect: { uri: /v2 }`, /^spec\.http\[0\]: only one of route, redirect, directResponse and delegate may be set/],
      [`  hosts: [reviews]\n  http:\n  - timeout: 1s`, /^spec\.http\[0\]: one of route, redirect, directResponse or delegate is required/],
      [`  hosts: [reviews]\n  http:\n  - route: [{ destination: { host: reviews } }]\n    fault: { abort: { percentage: { value: 10 } } }`, /^spec\.http\[0\]\.fault\.abort: exactly one of httpStatus, grpcStatus or http2Error/],
      [`  hosts: [reviews]\n  http:\n  - route: [{ destination: { host: reviews } }]\n    fault: { abort: { httpStatus: 503, percentage: { value: 101 } } }`, /^spec\.http\[0\]\.fault\.abort\.percentage\.value: /],
      [`  hosts: ["*"]\n  http:\n  - route: [{ destination: { host: reviews } }]`, /^spec\.hosts\[0\]: the wildcard host \* is not allowed for the mesh/],
      [`  hosts: [reviews]`, /^spec: at least one of http, tls or tcp is required/],
      [`  hosts: [Bad_Host!]\n  http:\n  - route: [{ destination: { host: reviews } }]`, /^spec\.hosts\[0\]: not a host name/],
      [`  hosts: [reviews]\n  exportTo: ["~", "."]\n  http:\n  - route: [{ destination: { host: reviews } }]`, /^spec\.exportTo: "~" \(export to none\) cannot be combined/],
      [`  hosts: [reviews]\n  tls:\n  - match: [{ port: 443 }]\n    route: [{ destination: { host: reviews } }]`, /^spec\.tls\[0\]\.match\[0\]\.sniHosts: /],
    ];
    for (const [spec, expected] of cases) {
      const errors = errorsOf(vs(spec));
      assert.ok(errors.some((e) => expected.test(e)), `${expected} in:\n${errors.join('\n')}\nfor:\n${spec}`);
    }
  });

  it('a regex Envoy would refuse for its program size is refused here', () => {
    const regex = '(abc|def|ghi){10}';
    const errors = errorsOf(vs(`  hosts: [reviews]\n  http:\n  - match: [{ uri: { regex: "${regex}" } }]\n    route: [{ destination: { host: reviews } }]`));
    assert.ok(errors.some((e) => /uri\.regex: RE2 program size \d+ is over Envoy's limit of 100/.test(e)), errors.join('\n'));
  });
});

describe('DestinationRule', () => {
  const dr = (spec: string) => `apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: { name: reviews }
spec:
${spec}`;

  it('accepts subsets with their own policies, locality failover, outlier detection and port-level settings', () => {
    assertAccepted(
      dr(`  host: reviews.default.svc.cluster.local
  trafficPolicy:
    loadBalancer:
      simple: LEAST_REQUEST
      localityLbSetting:
        enabled: true
        failover: [{ from: us-east, to: us-west }]
    connectionPool:
      tcp: { maxConnections: 100, connectTimeout: 30ms, tcpKeepalive: { time: 7200s, interval: 75s } }
      http: { http2MaxRequests: 1000, maxRequestsPerConnection: 10 }
    outlierDetection: { consecutive5xxErrors: 7, interval: 5m, baseEjectionTime: 15m }
    portLevelSettings:
    - port: { number: 80 }
      loadBalancer: { simple: LEAST_REQUEST }
    - port: { number: 9080 }
      loadBalancer: { consistentHash: { httpCookie: { name: user, ttl: 0s } } }
  subsets:
  - name: v1
    labels: { version: v1 }
  - name: east
    labels: { topology.istio.io/cluster: east }
    trafficPolicy: { loadBalancer: { simple: ROUND_ROBIN } }`),
    );
  });

  it('names the field at fault', () => {
    const cases: Array<[string, RegExp]> = [
      [`  host: reviews\n  subsets: [{ name: v1 }, { name: v1 }]`, /^spec\.subsets\[1\]\.name: subset v1 is defined twice/],
      [`  host: reviews\n  trafficPolicy: { loadBalancer: { simple: FASTEST } }`, /^spec\.trafficPolicy\.loadBalancer\.simple: /],
      [`  host: reviews\n  trafficPolicy: { loadBalancer: { simple: RANDOM, consistentHash: { useSourceIp: true } } }`, /^spec\.trafficPolicy\.loadBalancer: simple and consistentHash cannot both be set/],
      [`  host: reviews\n  trafficPolicy: { loadBalancer: { consistentHash: { httpHeaderName: x, useSourceIp: true } } }`, /^spec\.trafficPolicy\.loadBalancer\.consistentHash: exactly one of/],
      [`  host: reviews\n  trafficPolicy: { loadBalancer: { localityLbSetting: { distribute: [{ from: "us-east/*", to: { "us-east/*": 80, "us-west/*": 10 } }] } } }`, /^spec\.trafficPolicy\.loadBalancer\.localityLbSetting\.distribute\[0\]\.to: the weights in to must add up to 100 \(got 90\)/],
      [`  host: reviews\n  trafficPolicy: { outlierDetection: { maxEjectionPercent: 150 } }`, /^spec\.trafficPolicy\.outlierDetection\.maxEjectionPercent: /],
      [`  host: reviews\n  trafficPolicy: { tls: { mode: ISTIO_MUTUAL_PLEASE } }`, /^spec\.trafficPolicy\.tls\.mode: /],
      [`  trafficPolicy: {}`, /^spec\.host: /],
    ];
    for (const [spec, expected] of cases) {
      const errors = errorsOf(dr(spec));
      assert.ok(errors.some((e) => expected.test(e)), `${expected} in:\n${errors.join('\n')}`);
    }
  });
});

describe('security policies', () => {
  it('accepts the reference examples of PeerAuthentication, AuthorizationPolicy and RequestAuthentication', () => {
    assertAccepted(`apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: finance, namespace: foo }
spec:
  selector: { matchLabels: { app: finance } }
  mtls: { mode: STRICT }
  portLevelMtls:
    "8080": { mode: DISABLE }`);
    assertAccepted(`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: httpbin, namespace: foo }
spec:
  selector: { matchLabels: { app: httpbin, version: v1 } }
  action: ALLOW
  rules:
  - from:
    - source: { principals: ["cluster.local/ns/default/sa/sleep"] }
    - source: { namespaces: ["test"], ipBlocks: ["10.0.0.0/8", "fd00::/8", "192.168.1.7"] }
    to:
    - operation: { methods: ["GET"], paths: ["/info*"], ports: ["8080"] }
    when:
    - key: request.auth.claims[iss]
      values: ["https://accounts.google.com"]
    - key: request.headers[x-token]
      notValues: ["forbidden"]`);
    assertAccepted(`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: allow-nothing }
spec: {}`);
    assertAccepted(`apiVersion: security.istio.io/v1beta1
kind: RequestAuthentication
metadata: { name: jwt-example, namespace: foo }
spec:
  selector: { matchLabels: { app: httpbin } }
  jwtRules:
  - issuer: "issuer-foo"
    jwksUri: https://example.com/.well-known/jwks.json
    outputClaimToHeaders: [{ header: x-sub, claim: sub }]`);
  });

  it('names the field at fault', () => {
    const ap = (spec: string) => `apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: { name: p }\nspec:\n${spec}`;
    const cases: Array<[string, RegExp]> = [
      [ap(`  action: CUSTOM`), /^spec\.provider: action CUSTOM needs a provider/],
      [ap(`  action: REJECT`), /^spec\.action: /],
      [ap(`  rules: [{ from: [{ source: {} }] }]`), /^spec\.rules\[0\]\.from\[0\]\.source: a source needs at least one field/],
      [ap(`  rules: [{ from: [{ source: { ipBlocks: ["10.0.0.0/33"] } }] }]`), /^spec\.rules\[0\]\.from\[0\]\.source\.ipBlocks\[0\]: not an IP address or CIDR block/],
      [ap(`  rules: [{ to: [{ operation: { ports: ["http"] } }] }]`), /^spec\.rules\[0\]\.to\[0\]\.operation\.ports\[0\]: a port number/],
      [ap(`  rules: [{ when: [{ key: "request.header[x]", values: [a] }] }]`), /^spec\.rules\[0\]\.when\[0\]\.key: unknown condition key/],
      [ap(`  rules: [{ when: [{ key: source.ip }] }]`), /^spec\.rules\[0\]\.when\[0\]: values or notValues is required/],
      [ap(`  rules: [{ from: [{ source: { principals: [""] } }] }]`), /^spec\.rules\[0\]\.from\[0\]\.source\.principals\[0\]: must not be empty/],
      [ap(`  selector: { matchLabels: { app: a } }\n  targetRefs: [{ kind: Service, name: a }]`), /^spec\.selector: selector and targetRef\(s\) cannot both be set/],
      [`apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: { name: p }\nspec:\n  portLevelMtls: { "8080": { mode: DISABLE } }`, /^spec\.portLevelMtls: portLevelMtls requires a selector/],
      [`apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: { name: p }\nspec:\n  mtls: { mode: strict }`, /^spec\.mtls\.mode: /],
      [`apiVersion: security.istio.io/v1\nkind: RequestAuthentication\nmetadata: { name: r }\nspec:\n  jwtRules: [{ issuer: a, jwks: "not json" }]`, /^spec\.jwtRules\[0\]\.jwks: jwks is not a JSON Web Key Set/],
    ];
    for (const [text, expected] of cases) {
      const errors = errorsOf(text);
      assert.ok(errors.some((e) => expected.test(e)), `${expected} in:\n${errors.join('\n')}`);
    }
  });
});

describe('ServiceEntry, Sidecar, Telemetry', () => {
  it('accepts the reference examples', () => {
    assertAccepted(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: external-svc-mongocluster }
spec:
  hosts: [mymongodb.somedomain]
  addresses: [192.192.192.192/24]
  ports: [{ number: 27018, name: mongodb, protocol: MONGO }]
  location: MESH_INTERNAL
  resolution: STATIC
  endpoints:
  - address: 2.2.2.2
  - address: 3.3.3.3
    ports: { mongodb: 27019 }`);
    assertAccepted(`apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: { name: default, namespace: prod-us1 }
spec:
  egress:
  - hosts: ["prod-us1/*", "prod-apis/*", "istio-system/*", "./*", "*/foo.example.com"]`);
    assertAccepted(`apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: mesh-default, namespace: istio-system }
spec:
  tracing: [{ providers: [{ name: otel }], randomSamplingPercentage: 10 }]
  metrics:
  - overrides: [{ match: { metric: REQUEST_COUNT, mode: CLIENT }, disabled: true }]
  accessLogging: [{ providers: [{ name: envoy }], filter: { expression: "response.code >= 400" } }]`);
  });

  it('names the field at fault', () => {
    const cases: Array<[string, RegExp]> = [
      [`apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: { name: s }\nspec:\n  hosts: [a.example.com]\n  resolution: STATIC\n  ports: [{ number: 80, name: http }]\n  endpoints: [{ address: db.example.com }]`, /^spec\.endpoints\[0\]\.address: resolution STATIC needs an IP address/],
      [`apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: { name: s }\nspec:\n  hosts: [a.example.com]\n  ports: [{ number: 80, name: http, protocol: GOPHER }]`, /^spec\.ports\[0\]\.protocol: one of HTTP/],
      [`apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: { name: s }\nspec:\n  hosts: []`, /^spec\.hosts: at least one host is required/],
      [`apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: { name: s }\nspec:\n  egress: [{ hosts: [foo.example.com] }]`, /^spec\.egress\[0\]\.hosts\[0\]: expected namespace\/host/],
      [`apiVersion: telemetry.istio.io/v1\nkind: Telemetry\nmetadata: { name: t }\nspec:\n  tracing: [{ randomSamplingPercentage: 200 }]`, /^spec\.tracing\[0\]\.randomSamplingPercentage: /],
      // Envoy would reject the whole listener: refused here, per object, with the parser's reason.
      [`apiVersion: telemetry.istio.io/v1\nkind: Telemetry\nmetadata: { name: t }\nspec:\n  accessLogging: [{ filter: { expression: "response.code >= " } }]`, /^spec\.accessLogging\[0\]\.filter\.expression: not a CEL expression: .*expecting/],
    ];
    for (const [text, expected] of cases) {
      const errors = errorsOf(text);
      assert.ok(errors.some((e) => expected.test(e)), `${expected} in:\n${errors.join('\n')}`);
    }
  });
});

describe('Gateway API routes with Service parents (the mesh profile)', () => {
  it('accepts a producer HTTPRoute with a weighted split, a header match and a timeout, and a GRPCRoute', () => {
    assertAccepted(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: reviews, namespace: bookinfo }
spec:
  parentRefs: [{ group: "", kind: Service, name: reviews, port: 9080 }]
  rules:
  - matches:
    - headers: [{ name: end-user, value: jason }]
      path: { type: PathPrefix, value: /reviews }
    backendRefs: [{ name: reviews-v2, port: 9080 }]
  - backendRefs:
    - { name: reviews-v1, port: 9080, weight: 90 }
    - { name: reviews-v3, port: 9080, weight: 10 }
    timeouts: { request: 10s, backendRequest: 2s }
    filters:
    - type: RequestHeaderModifier
      requestHeaderModifier: { add: [{ name: x-canary, value: "false" }] }`);
    assertAccepted(`apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: { name: echo }
spec:
  parentRefs: [{ group: "", kind: Service, name: echo }]
  rules:
  - matches: [{ method: { service: echo.Echo, method: Call } }]
    backendRefs: [{ name: echo-v2, port: 7070 }]`);
  });

  it('names the field at fault', () => {
    const route = (rules: string) => `apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: { name: r }\nspec:\n  parentRefs: [{ kind: Service, name: reviews }]\n  rules:\n${rules}`;
    const cases: Array<[string, RegExp]> = [
      [route(`  - backendRefs: [{ name: reviews-v1 }]`), /^spec\.rules\[0\]\.backendRefs\[0\]\.port: port is required when the backend is a Service/],
      [route(`  - matches: [{ path: { type: PathPrefix, value: reviews } }]\n    backendRefs: [{ name: a, port: 80 }]`), /^spec\.rules\[0\]\.matches\[0\]\.path\.value: must start with \//],
      [route(`  - filters: [{ type: RequestMirror, requestHeaderModifier: { remove: [x] } }]\n    backendRefs: [{ name: a, port: 80 }]`), /^spec\.rules\[0\]\.filters\[0\]\.requestMirror: requestMirror is required for type RequestMirror/],
      [route(`  - filters: [{ type: RequestRedirect, requestRedirect: { statusCode: 301 } }]\n    backendRefs: [{ name: a, port: 80 }]`), /^spec\.rules\[0\]\.backendRefs: a rule with RequestRedirect has no backendRefs/],
      [route(`  - timeouts: { request: soon }\n    backendRefs: [{ name: a, port: 80 }]`), /^spec\.rules\[0\]\.timeouts\.request: not a duration/],
      [`apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: { name: r }\nspec:\n  rules: []`, /^spec\.parentRefs: /],
      // Meridian's identity-exchange headers are not a route's to edit.
      [route(`  - filters: [{ type: RequestHeaderModifier, requestHeaderModifier: { set: [{ name: X-Meridian-Peer-Workload, value: x }] } }]\n    backendRefs: [{ name: a, port: 80 }]`), /^spec\.rules\[0\]\.filters\[0\]\.requestHeaderModifier\.set\[0\]\.name: x-meridian-\* headers are Meridian's identity exchange/],
      [vs(`  hosts: [reviews]\n  http: [{ headers: { request: { remove: [x-meridian-peer-service] } }, route: [{ destination: { host: reviews } }] }]`), /^spec\.http\[0\]\.headers\.request\.remove\[0\]: x-meridian-\* headers/],
      [vs(`  hosts: [reviews]\n  http: [{ route: [{ destination: { host: reviews }, headers: { request: { set: { x-meridian-peer-cluster: east } } } }] }]`), /^spec\.http\[0\]\.route\[0\]\.headers\.request\.set(\.|\[")x-meridian-peer-cluster("\])?: x-meridian-\* headers/],
    ];
    for (const [text, expected] of cases) {
      const errors = errorsOf(text);
      assert.ok(errors.some((e) => expected.test(e)), `${expected} in:\n${errors.join('\n')}`);
    }
  });
});

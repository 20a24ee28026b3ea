/**
 * Both ADS variants against a model client, over random sequences of mesh changes,
 * subscription changes and streams that stop draining. The client applies every response
 * the way the xDS protocol says (SotW: LDS/CDS replace, EDS/RDS merge; delta: resources and
 * removals) and ACKs it. Listeners and routes point at clusters, and the mesh changes as a
 * registry would (a cluster goes in the same push as the listeners and routes that move off
 * it). Two properties: after every response the client holds no listener or route whose
 * cluster it lacks (make-before-break), and whenever everything written has been read it
 * holds exactly what the mesh says, whatever shortcuts the connection took to get there
 * (cached versions, skipped diffs, held removals, merged pushes). Seeded, so a failure
 * replays; MODEL_DEBUG=1 adds every response read (and the client's state after it) to the
 * steps a failure lists.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigKind, hostnameKeys, silentLogger } from '@meridian/model';
import { AdsConnection } from './sotw-connection.ts';
import { DeltaAdsConnection } from './delta-connection.ts';
import { protoType } from './protos.ts';
import { CapturingStream, TableSource, TEST_PROXY } from './testing/index.ts';
import { TypeUrl } from './type-url.ts';

const SCENARIOS = 150;
const STEPS = 40;
const NAMES: Record<string, string[]> = {
  [TypeUrl.Listener]: ['l0', 'l1', 'l2'],
  [TypeUrl.Cluster]: ['c0', 'c1', 'c2', 'c3'],
  [TypeUrl.Endpoint]: ['e0', 'e1', 'e2', 'e3'],
  [TypeUrl.Route]: ['r0', 'r1'],
};
const TYPES = [TypeUrl.Listener, TypeUrl.Route, TypeUrl.Cluster, TypeUrl.Endpoint];
/** Routes are always subscribed and always exist: SotW cannot take a named resource back. */
const ROUTES = NAMES[TypeUrl.Route] ?? [];
/** c0 always exists, so a listener or route moving off a removed cluster has somewhere to go. */
const PERMANENT_CLUSTER = 'c0';
const named = (t: TypeUrl) => t === TypeUrl.Endpoint || t === TypeUrl.Route;

/** mulberry32: small, seedable, good enough to pick test actions. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface DecodedAny {
  value: Uint8Array;
}

/** A resource as the table source encodes it: `name=content`, version `name@content`. */
function resourceOf(any: DecodedAny): { name: string; version: string } {
  const [name = '', content = ''] = Buffer.from(any.value).toString('utf8').split('=');
  return { name, version: `${name}@${content}` };
}

/** What a client holds per type: name → version. */
type ClientState = Map<TypeUrl, Map<string, string>>;

interface ModelClient {
  readonly state: ClientState;
  /** The EDS names subscribed. */
  edsNames: Set<string>;
  /** Reads one written response, applies it and ACKs it. */
  read(chunk: Buffer): void;
  /** Changes the EDS subscription. */
  resubscribe(names: Set<string>): void;
}

function sotwClient(conn: AdsConnection, edsNames: Set<string>): ModelClient {
  const responseType = protoType('envoy.service.discovery.v3.DiscoveryResponse');
  const state: ClientState = new Map(TYPES.map((t) => [t, new Map()]));
  const last = new Map<TypeUrl, { version: string; nonce: string }>();
  const client: ModelClient = {
    state,
    edsNames,
    read(chunk) {
      const r = responseType.decode(chunk) as unknown as { version_info: string; nonce: string; type_url: TypeUrl; resources: DecodedAny[] };
      const held = state.get(r.type_url) ?? new Map<string, string>();
      if (!named(r.type_url)) held.clear(); // LDS and CDS responses carry the whole set
      for (const any of r.resources) {
        const { name, version } = resourceOf(any);
        if (r.type_url !== TypeUrl.Endpoint || client.edsNames.has(name)) held.set(name, version);
      }
      state.set(r.type_url, held);
      last.set(r.type_url, { version: r.version_info, nonce: r.nonce });
      const names = r.type_url === TypeUrl.Endpoint ? [...client.edsNames] : r.type_url === TypeUrl.Route ? ROUTES : [];
      conn.handleRequest(r.type_url, { version_info: r.version_info, response_nonce: r.nonce, resource_names: names });
    },
    resubscribe(names) {
      client.edsNames = names;
      const held = state.get(TypeUrl.Endpoint);
      for (const n of [...(held?.keys() ?? [])]) if (!names.has(n)) held?.delete(n);
      const l = last.get(TypeUrl.Endpoint);
      conn.handleRequest(TypeUrl.Endpoint, { version_info: l?.version ?? '', response_nonce: l?.nonce ?? '', resource_names: [...names] });
    },
  };
  // Envoy's order: clusters (and their endpoints) first, then listeners and their routes.
  for (const t of [TypeUrl.Cluster, TypeUrl.Endpoint, TypeUrl.Listener, TypeUrl.Route]) {
    const names = t === TypeUrl.Endpoint ? [...edsNames] : t === TypeUrl.Route ? ROUTES : [];
    conn.handleRequest(t, { version_info: '', response_nonce: '', resource_names: names });
  }
  return client;
}

function deltaClient(conn: DeltaAdsConnection, edsNames: Set<string>): ModelClient {
  const responseType = protoType('envoy.service.discovery.v3.DeltaDiscoveryResponse');
  const state: ClientState = new Map(TYPES.map((t) => [t, new Map()]));
  const request = (subscribe: string[], unsubscribe: string[], nonce: string) => ({
    resource_names_subscribe: subscribe,
    resource_names_unsubscribe: unsubscribe,
    response_nonce: nonce,
  });
  const client: ModelClient = {
    state,
    edsNames,
    read(chunk) {
      const r = responseType.decode(chunk) as unknown as {
        nonce: string;
        type_url: TypeUrl;
        resources: Array<{ name: string; version: string; resource: DecodedAny }>;
        removed_resources: string[];
      };
      const held = state.get(r.type_url) ?? new Map<string, string>();
      for (const res of r.resources) {
        const decoded = resourceOf(res.resource);
        assert.equal(res.name, decoded.name);
        assert.equal(res.version, decoded.version);
        // A response already on its way when the client unsubscribed: clients ignore it.
        if (r.type_url !== TypeUrl.Endpoint || client.edsNames.has(res.name)) held.set(res.name, res.version);
      }
      for (const name of r.removed_resources) held.delete(name);
      state.set(r.type_url, held);
      conn.handleRequest(r.type_url, request([], [], r.nonce));
    },
    resubscribe(names) {
      const added = [...names].filter((n) => !client.edsNames.has(n));
      const removed = [...client.edsNames].filter((n) => !names.has(n));
      client.edsNames = names;
      const held = state.get(TypeUrl.Endpoint);
      for (const n of removed) held?.delete(n);
      conn.handleRequest(TypeUrl.Endpoint, request(added, removed, ''));
    },
  };
  conn.handleRequest(TypeUrl.Cluster, request([], [], ''));
  conn.handleRequest(TypeUrl.Endpoint, request([...edsNames], [], ''));
  conn.handleRequest(TypeUrl.Listener, request([], [], ''));
  conn.handleRequest(TypeUrl.Route, request(ROUTES, [], ''));
  return client;
}

/** What the client must hold once everything has been delivered. */
function expected(source: TableSource, edsNames: ReadonlySet<string>): ClientState {
  const table = (t: TypeUrl) => source.table.get(t) ?? new Map<string, string>();
  const versions = (entries: Array<[string, string]>) => new Map(entries.map(([n, c]) => [n, `${n}@${c}`]));
  return new Map([
    [TypeUrl.Listener, versions([...table(TypeUrl.Listener)])],
    [TypeUrl.Cluster, versions([...table(TypeUrl.Cluster)])],
    [TypeUrl.Endpoint, versions([...edsNames].map((n) => [n, table(TypeUrl.Endpoint).get(n) ?? 'empty']))],
    [TypeUrl.Route, versions([...table(TypeUrl.Route)])],
  ]);
}

const sorted = (state: ClientState) => TYPES.map((t) => [t, [...(state.get(t) ?? new Map<string, string>())].sort()]);

/**
 * Make-before-break as the client sees it: every listener and route it holds goes to a
 * cluster it holds. (A listener's or route's content is the name of its cluster.)
 */
function assertNothingDangling(state: ClientState, why: () => string): void {
  const clusters = state.get(TypeUrl.Cluster) ?? new Map<string, string>();
  for (const type of [TypeUrl.Listener, TypeUrl.Route]) {
    for (const version of (state.get(type) ?? new Map<string, string>()).values()) {
      const target = version.slice(version.indexOf('@') + 1);
      assert.ok(clusters.has(target), `${version} goes to a cluster the client does not have; ${why()}`);
    }
  }
}

function runScenario(seed: number, variant: 'sotw' | 'delta'): void {
  const next = random(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)] as T;
  const someNames = () => new Set((NAMES[TypeUrl.Endpoint] ?? []).filter(() => next() < 0.5));
  const source = new TableSource();
  const clusters = () => [...(source.table.get(TypeUrl.Cluster)?.keys() ?? [])];
  const routing = (type: TypeUrl) => [...(source.table.get(type) ?? new Map<string, string>())];
  for (const n of NAMES[TypeUrl.Cluster] ?? []) if (n === PERMANENT_CLUSTER || next() < 0.6) source.set(TypeUrl.Cluster, n, '1');
  for (const n of NAMES[TypeUrl.Endpoint] ?? []) if (next() < 0.6) source.set(TypeUrl.Endpoint, n, '1');
  for (const n of NAMES[TypeUrl.Listener] ?? []) if (next() < 0.6) source.set(TypeUrl.Listener, n, pick(clusters()));
  for (const n of ROUTES) source.set(TypeUrl.Route, n, pick(clusters()));
  const stream = new CapturingStream();
  const options = { id: `m${seed}`, proxy: TEST_PROXY, stream, source, logger: silentLogger(), maxBufferedBytes: 1 };
  const conn = variant === 'sotw' ? new AdsConnection(options) : new DeltaAdsConnection(options);
  const edsNames = someNames().add('e0');
  const client = conn instanceof AdsConnection ? sotwClient(conn, edsNames) : deltaClient(conn, edsNames);
  const trace: string[] = [];
  const why = () => `seed ${seed} (${variant}); steps: ${trace.join(', ')}`;
  let read = 0;
  const readSome = (n: number) => {
    for (let i = 0; i < n && read < stream.written.length; i++) {
      client.read(stream.written[read++] as Buffer);
      if (process.env['MODEL_DEBUG']) trace.push(`<#${read - 1} ${JSON.stringify(TYPES.map((t) => [...(client.state.get(t)?.values() ?? [])]))}>`);
      assertNothingDangling(client.state, why);
    }
  };
  const check = (when: string) => assert.deepEqual(sorted(client.state), sorted(expected(source, client.edsNames)), `${when}: ${why()}`);
  /** One push naming everything that changed, as the registry reports a change. */
  const change = (edits: Array<[TypeUrl, string, string | undefined]>) => {
    for (const [type, name, content] of edits) source.set(type, name, content);
    conn.push({ kind: 'full', configs: hostnameKeys(ConfigKind.Service, edits.map(([, name]) => name)), reasons: ['model'] });
    trace.push(edits.map(([, name, content]) => `${name}=${content ?? 'gone'}`).join('+'));
  };

  for (let step = 0; step < STEPS; step++) {
    const action = next();
    if (action < 0.1) {
      change([[TypeUrl.Cluster, pick(NAMES[TypeUrl.Cluster] ?? []), pick(['1', '2', '3'])]]);
    } else if (action < 0.2 && clusters().length > 1) {
      // A cluster goes; listeners and routes on it move to another one in the same push.
      const gone = pick(clusters().filter((c) => c !== PERMANENT_CLUSTER));
      const others = clusters().filter((c) => c !== gone);
      const moved = [TypeUrl.Listener, TypeUrl.Route].flatMap((type) =>
        routing(type)
          .filter(([, target]) => target === gone)
          .map(([name]): [TypeUrl, string, string | undefined] => [type, name, pick(others)]),
      );
      change([[TypeUrl.Cluster, gone, undefined], ...moved]);
    } else if (action < 0.25) {
      change([[TypeUrl.Listener, pick(NAMES[TypeUrl.Listener] ?? []), next() < 0.2 ? undefined : pick(clusters())]]);
    } else if (action < 0.3) {
      change([[TypeUrl.Route, pick(ROUTES), pick(clusters())]]);
    } else if (action < 0.4) {
      change([[TypeUrl.Endpoint, pick(NAMES[TypeUrl.Endpoint] ?? []), next() < 0.25 ? undefined : pick(['1', '2', '3'])]]);
    } else if (action < 0.5) {
      stream.writable = false;
      trace.push('stall');
    } else if (action < 0.6) {
      stream.release();
      trace.push('drain');
    } else if (action < 0.7) {
      const names = someNames();
      client.resubscribe(names);
      trace.push(`eds {${[...names].join(' ')}}`);
    } else {
      const n = 1 + Math.floor(next() * 3);
      readSome(n);
      trace.push(`read ${n}`);
    }
    if (process.env['MODEL_DEBUG']) trace.push(`[w${stream.written.length}${stream.writable ? '' : ' stalled'}]`);
    if (stream.writable && read === stream.written.length) check(`after step ${step}`);
  }
  // Let everything through: the client must end where the mesh is.
  for (let rounds = 0; rounds < 100 && (!stream.writable || read < stream.written.length); rounds++) {
    stream.release();
    readSome(Infinity);
  }
  check('at the end');
}

describe('ADS connections against a model client', () => {
  for (const variant of ['sotw', 'delta'] as const) {
    it(`${variant}: the client always ends with exactly the mesh (${SCENARIOS} random scenarios)`, () => {
      for (let seed = 1; seed <= SCENARIOS; seed++) runScenario(seed, variant);
    });
  }
});

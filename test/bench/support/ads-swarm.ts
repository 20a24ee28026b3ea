/**
 * A swarm of simulated proxies in its own process, for `pnpm bench xds`: N ADS streams
 * (state of the world, or delta) that subscribe, ACK everything, and report when each received the
 * response the parent is waiting for. Responses are not decoded beyond version and nonce,
 * so the swarm costs the same whether it listens to Meridian or to the raw baseline server.
 */
import { writeFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { envoyPackageDefinition } from '@meridian/testkit';

type Command =
  /** `labels`: proxy i carries `app: svc-<i>`, the workload behind svc-i's first endpoint. */
  | { cmd: 'ads'; address: string; count: number; subscriptions: Array<{ typeUrl: string; names: string[] }>; delta?: boolean; labels?: boolean }
  | { cmd: 'raw'; address: string; count: number }
  | { cmd: 'capture'; address: string; subscriptions: Array<{ typeUrl: string; names: string[] }>; files: Record<string, string> }
  | { cmd: 'arm'; typeUrl: string }
  | { cmd: 'close' };

interface Stream {
  call: grpc.ClientDuplexStream<object, Buffer>;
  names: Map<string, string[]>;
  waiting: ((at: number) => void) | undefined;
  waitingType: string | undefined;
  bytes: number;
}

const send = (msg: object) => process.send?.(msg);
const now = () => performance.timeOrigin + performance.now();
const streams: Stream[] = [];
const clients: grpc.Client[] = [];
const STREAMS_PER_CHANNEL = 50;

/**
 * Top-level fields 1 (version_info), 4 (type_url), 5 (nonce) of a DiscoveryResponse; a
 * DeltaDiscoveryResponse has system_version_info, type_url and nonce at the same numbers.
 */
function header(buf: Buffer): { version: string; typeUrl: string; nonce: string } {
  const out = { version: '', typeUrl: '', nonce: '' };
  let i = 0;
  while (i < buf.length) {
    let key = 0;
    let shift = 0;
    let b: number;
    do {
      b = buf[i++] ?? 0;
      key |= (b & 0x7f) << shift;
      shift += 7;
    } while (b & 0x80);
    let len = 0;
    shift = 0;
    do {
      b = buf[i++] ?? 0;
      len += (b & 0x7f) * 2 ** shift;
      shift += 7;
    } while (b & 0x80);
    const field = key >>> 3;
    if (field === 1) out.version = buf.toString('utf8', i, i + len);
    else if (field === 4) out.typeUrl = buf.toString('utf8', i, i + len);
    else if (field === 5) out.nonce = buf.toString('utf8', i, i + len);
    i += len;
  }
  return out;
}

function channel(address: string, index: number): grpc.Client {
  // A distinct option per channel keeps grpc-js from sharing one connection among all.
  const client = new grpc.Client(address, grpc.credentials.createInsecure(), { 'grpc.bench_channel': index, 'grpc.max_receive_message_length': 64 << 20 });
  clients.push(client);
  return client;
}

function adsSwarm(address: string, count: number, subscriptions: Array<{ typeUrl: string; names: string[] }>, delta: boolean, labels: boolean): Promise<number> {
  const definitions = envoyPackageDefinition();
  const requestType = definitions[delta ? 'envoy.service.discovery.v3.DeltaDiscoveryRequest' : 'envoy.service.discovery.v3.DiscoveryRequest'] as unknown as {
    serialize(v: object): Buffer;
  };
  const method = delta ? 'DeltaAggregatedResources' : 'StreamAggregatedResources';
  let client: grpc.Client | undefined;
  let initial = 0;
  return new Promise((resolve) => {
    for (let i = 0; i < count; i++) {
      if (i % STREAMS_PER_CHANNEL === 0) client = channel(address, i);
      if (!client) break;
      const call = client.makeBidiStreamRequest(
        `/envoy.service.discovery.v3.AggregatedDiscoveryService/${method}`,
        (v: object) => requestType.serialize(v),
        (b: Buffer) => b,
      );
      const s: Stream = { call, names: new Map(subscriptions.map((x) => [x.typeUrl, x.names])), waiting: undefined, waitingType: undefined, bytes: 0 };
      const pending = new Set(subscriptions.map((x) => x.typeUrl));
      call.on('data', (buf: Buffer) => {
        const at = now();
        const h = header(buf);
        s.bytes += buf.length;
        // Delta ACKs name only the nonce; SotW ACKs repeat the subscription and the version.
        call.write(
          delta
            ? { type_url: h.typeUrl, response_nonce: h.nonce }
            : { type_url: h.typeUrl, resource_names: s.names.get(h.typeUrl) ?? [], version_info: h.version, response_nonce: h.nonce },
        );
        if (pending.delete(h.typeUrl) && pending.size === 0 && ++initial === count) resolve(count);
        if (s.waiting && s.waitingType === h.typeUrl) {
          const w = s.waiting;
          s.waiting = undefined;
          w(at);
        }
      });
      call.on('error', () => undefined);
      subscriptions.forEach((sub, k) =>
        call.write({
          type_url: sub.typeUrl,
          ...(delta ? { resource_names_subscribe: sub.names } : { resource_names: sub.names }),
          ...(k === 0 ? { node: { id: `sidecar~10.${(i >> 8) & 255}.${i & 255}.1~proxy-${i}.demo~demo.svc.cluster.local`, locality: { region: 'r1' }, metadata: { fields: { CLUSTER_ID: { stringValue: 'c1' }, ...(labels ? { LABELS: { structValue: { fields: { app: { stringValue: `svc-${i}` } } } } } : {}) } } } } : {}),
        }),
      );
      streams.push(s);
    }
  });
}

/**
 * One more proxy of the swarm's kind, whose first response of each type is written as it came
 * (a serialized DiscoveryResponse) to `files[typeUrl]`: the snapshot a peer server then serves.
 */
function capture(address: string, subscriptions: Array<{ typeUrl: string; names: string[] }>, files: Record<string, string>): Promise<string[]> {
  const requestType = envoyPackageDefinition()['envoy.service.discovery.v3.DiscoveryRequest'] as unknown as { serialize(v: object): Buffer };
  const client = channel(address, -1);
  const call = client.makeBidiStreamRequest('/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources', (v: object) => requestType.serialize(v), (b: Buffer) => b);
  const pending = new Set(Object.keys(files));
  return new Promise((resolve, reject) => {
    call.on('data', (buf: Buffer) => {
      const { typeUrl, version, nonce } = header(buf);
      // ACKed like any proxy, since a server may hold one type until another is ACKed.
      call.write({ type_url: typeUrl, resource_names: subscriptions.find((x) => x.typeUrl === typeUrl)?.names ?? [], version_info: version, response_nonce: nonce });
      const file = files[typeUrl];
      if (!file || !pending.delete(typeUrl)) return;
      writeFileSync(file, buf);
      if (pending.size === 0) {
        call.cancel();
        resolve(Object.values(files));
      }
    });
    call.on('error', (err: Error & { code?: number }) => {
      if (err.code !== grpc.status.CANCELLED) reject(err);
    });
    subscriptions.forEach((sub, k) =>
      call.write({
        type_url: sub.typeUrl,
        resource_names: sub.names,
        ...(k === 0 ? { node: { id: 'sidecar~10.255.255.1~capture.demo~demo.svc.cluster.local', locality: { region: 'r1' }, metadata: { fields: { CLUSTER_ID: { stringValue: 'c1' } } } } } : {}),
      }),
    );
  });
}

function rawSwarm(address: string, count: number): Promise<number> {
  let client: grpc.Client | undefined;
  let connected = 0;
  return new Promise((resolve) => {
    for (let i = 0; i < count; i++) {
      if (i % STREAMS_PER_CHANNEL === 0) client = channel(address, 100_000 + i);
      if (!client) break;
      const call = client.makeBidiStreamRequest('/bench.Raw/Fanout', (v: object) => v as Buffer, (b: Buffer) => b);
      const s: Stream = { call, names: new Map(), waiting: undefined, waitingType: 'raw', bytes: 0 };
      call.on('data', (buf: Buffer) => {
        const at = now();
        s.bytes += buf.length;
        if (buf.length === 1) {
          if (++connected === count) resolve(count);
          return;
        }
        if (s.waiting) {
          const w = s.waiting;
          s.waiting = undefined;
          w(at);
        }
      });
      call.on('error', () => undefined);
      call.write(Buffer.from([1]));
      streams.push(s);
    }
  });
}

process.on('message', (m: Command) => {
  void (async () => {
    switch (m.cmd) {
      case 'ads':
        send({ ready: await adsSwarm(m.address, m.count, m.subscriptions, m.delta === true, m.labels === true) });
        break;
      case 'raw':
        send({ ready: await rawSwarm(m.address, m.count) });
        break;
      case 'capture':
        send({ captured: await capture(m.address, m.subscriptions, m.files) });
        break;
      case 'arm': {
        const before = streams.reduce((n, s) => n + s.bytes, 0);
        const all = Promise.all(
          streams.map(
            (s) =>
              new Promise<number>((resolve) => {
                s.waitingType = m.typeUrl;
                s.waiting = resolve;
              }),
          ),
        );
        send({ armed: true });
        const times = await all;
        send({ times, bytes: streams.reduce((n, s) => n + s.bytes, 0) - before });
        break;
      }
      case 'close':
        for (const s of streams) s.call.cancel();
        for (const c of clients) c.close();
        send({ closed: true });
        setTimeout(() => process.exit(0), 100);
        break;
    }
  })();
});
send({ started: true });

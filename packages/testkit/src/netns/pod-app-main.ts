/**
 * The application in a test pod, as its own process inside the pod's namespace: servers that
 * answer with what they received (HTTP/1.1, h2c, gRPC, plain TCP), and a client that makes the
 * requests its parent asks for on stdin, one JSON line each, answering on stdout. It knows
 * nothing of any sidecar: it binds its ports and dials addresses, as an application does.
 */
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { createInterface } from 'node:readline';
import * as grpc from '@grpc/grpc-js';
import { ENVOY_ADMIN_PORT } from './envoy.ts';
import { podAppService, type PodAppConfig, type PodAppCommand, type Received } from './pod-app-protocol.ts';

const config = JSON.parse(process.argv[2] ?? '{}') as PodAppConfig;
let httpStatus = 200;
let httpDelayMs = 0;
let failEvery = 0;
let http1Requests = 0;

function received(protocol: string, method: string, path: string, headers: Record<string, unknown>): Received {
  const flat: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) if (!k.startsWith(':')) flat[k] = Array.isArray(v) ? v.join(', ') : String(v);
  return { pod: config.pod, protocol, method, path, headers: flat };
}

async function listen(server: net.Server, port: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '0.0.0.0', () => resolve());
  });
}

async function startServers(): Promise<void> {
  const { ports } = config;
  if (ports.http1) {
    const server = http.createServer((req, res) => {
      req.resume();
      const status = failEvery > 0 && ++http1Requests % failEvery === 0 ? 503 : httpStatus;
      setTimeout(() => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(received(`http/${req.httpVersion}`, req.method ?? '', req.url ?? '', req.headers)));
      }, httpDelayMs);
    });
    await listen(server, ports.http1);
  }
  if (ports.h2c) {
    const server = http2.createServer();
    server.on('stream', (stream, headers) => {
      stream.resume();
      stream.respond({ ':status': httpStatus, 'content-type': 'application/json' });
      stream.end(JSON.stringify(received('h2', String(headers[':method']), String(headers[':path']), headers)));
    });
    await listen(server, ports.h2c);
  }
  if (ports.grpc) {
    const server = new grpc.Server();
    server.addService(podAppService, {
      Who: (call: grpc.ServerUnaryCall<object, Received>, callback: grpc.sendUnaryData<Received>) => {
        if (httpStatus >= 500) {
          callback({ code: grpc.status.UNAVAILABLE, details: 'failing on purpose' });
          return;
        }
        callback(null, received('grpc', 'POST', call.getPath(), call.metadata.getMap()));
      },
    });
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(`0.0.0.0:${ports.grpc}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
    );
  }
  if (ports.tcp) {
    // One line in, `<pod> <line>` back; the pod's name shows which backend the bytes reached.
    const server = net.createServer((socket) => {
      socket.on('error', () => socket.destroy());
      const lines = createInterface({ input: socket });
      lines.on('line', (line) => socket.write(`${config.pod} ${line}\n`));
    });
    await listen(server, ports.tcp);
  }
}

const GrpcClient = grpc.makeGenericClientConstructor(podAppService, 'PodApp');

async function run(command: PodAppCommand): Promise<unknown> {
  const timeoutMs = command.timeoutMs ?? 5000;
  switch (command.op) {
    case 'status':
      httpStatus = command.status;
      httpDelayMs = command.delayMs ?? 0;
      failEvery = command.failEvery ?? 0;
      http1Requests = 0;
      return httpStatus;
    case 'http1':
      return new Promise((resolve, reject) => {
        const req = http.request(
          { host: command.host, port: command.port, path: command.path ?? '/', method: command.method ?? 'GET', headers: { ...command.headers, host: command.authority }, agent: false, timeout: timeoutMs },
          (res) => {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (c: string) => (body += c));
            const headers = Object.fromEntries(Object.entries(res.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : (v ?? '')]));
            res.on('end', () => resolve({ status: res.statusCode, body, headers }));
            res.on('error', reject);
          },
        );
        req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
        req.on('error', reject);
        req.end();
      });
    case 'h2c':
      return new Promise((resolve, reject) => {
        const session = http2.connect(`http://${command.host}:${command.port}`);
        const timer = setTimeout(() => session.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
        session.on('error', (err) => {
          clearTimeout(timer);
          reject(err);
        });
        const stream = session.request({ ':path': command.path ?? '/', ':authority': command.authority });
        let status = 0;
        let body = '';
        stream.setEncoding('utf8');
        stream.on('response', (headers) => (status = Number(headers[':status'])));
        stream.on('data', (c: string) => (body += c));
        stream.on('error', (err) => {
          clearTimeout(timer);
          session.destroy();
          reject(err);
        });
        stream.on('end', () => {
          clearTimeout(timer);
          session.close();
          resolve({ status, body });
        });
      });
    case 'grpc': {
      const client = new GrpcClient(`${command.host}:${command.port}`, grpc.credentials.createInsecure(), {
        'grpc.default_authority': command.authority,
      }) as unknown as grpc.Client & { Who(req: object, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: Received) => void): void };
      try {
        return await new Promise((resolve, reject) =>
          client.Who({}, { deadline: Date.now() + timeoutMs }, (err, res) => (err ? reject(new Error(`gRPC ${err.code}: ${err.details}`)) : resolve(res))),
        );
      } finally {
        client.close();
      }
    }
    case 'statReaches': {
      const deadline = Date.now() + timeoutMs;
      const url = `http://127.0.0.1:${ENVOY_ADMIN_PORT}/stats?filter=${encodeURIComponent(`^${command.name.replace(/[.|]/g, '\\$&')}$`)}`;
      for (;;) {
        const text = await (await fetch(url)).text();
        const at = performance.timeOrigin + performance.now();
        if (Number(text.slice(text.lastIndexOf(': ') + 2)) === command.value) return at;
        if (Date.now() > deadline) throw new Error(`${command.name} did not reach ${command.value} within ${timeoutMs} ms (${text.trim()})`);
        await new Promise((r) => setTimeout(r, command.everyMs ?? 5));
      }
    }
    case 'tcp':
      return new Promise((resolve, reject) => {
        const socket = net.connect({ host: command.host, port: command.port });
        socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no answer within ${timeoutMs} ms`)));
        let got = '';
        socket.setEncoding('utf8');
        socket.on('connect', () => socket.write(`${command.data}\n`));
        socket.on('data', (c: string) => {
          got += c;
          if (got.includes('\n')) {
            socket.end();
            resolve(got.trim());
          }
        });
        socket.on('error', reject);
        socket.on('close', () => reject(new Error(`connection closed${got ? ` after ${JSON.stringify(got)}` : ' with no answer'}`)));
      });
  }
}

function reply(line: object): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

await startServers();
reply({ ready: true });
createInterface({ input: process.stdin }).on('line', (line) => {
  const command = JSON.parse(line) as PodAppCommand & { id: number };
  run(command).then(
    (value) => reply({ id: command.id, ok: true, value }),
    (err: unknown) => reply({ id: command.id, ok: false, error: err instanceof Error ? err.message : String(err) }),
  );
});
process.stdin.on('end', () => process.exit(0));

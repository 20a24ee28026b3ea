// The TCP side: listen, and stop in a way that looks like an API outage to
// clients (every open connection, watches included, is cut), then listen again
// on the same port so clients configured with it can reconnect.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export class HttpListener {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #host: string;
  #port: number;
  #listening = false;

  constructor(handler: (req: IncomingMessage, res: ServerResponse) => void, host: string, port: number) {
    this.#host = host;
    this.#port = port;
    this.#server = createServer(handler);
    // Watches are long requests; Node's defaults would cut them after 5 minutes.
    this.#server.requestTimeout = 0;
    this.#server.headersTimeout = 0;
    this.#server.on('connection', (socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
  }

  get port(): number {
    return this.#port;
  }

  get host(): string {
    return this.#host;
  }

  get listening(): boolean {
    return this.#listening;
  }

  async listen(): Promise<void> {
    if (this.#listening) return;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.#server.once('error', onError);
      this.#server.listen(this.#port, this.#host, () => {
        this.#server.off('error', onError);
        resolve();
      });
    });
    // Port 0 picks a free port once; later restarts reuse it.
    this.#port = (this.#server.address() as AddressInfo).port;
    this.#listening = true;
  }

  async close(): Promise<void> {
    if (!this.#listening) return;
    this.#listening = false;
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
    await closed;
  }
}

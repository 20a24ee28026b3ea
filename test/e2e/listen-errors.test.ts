/**
 * A port Meridian cannot open is named by its config key and address, with what to do,
 * and no stack trace: tried as a new user would, with another server already on the port.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { MeridianProcess, Workspace } from '../support/meridian-process.ts';

describe('ports already in use', () => {
  const ws = new Workspace();
  let taken: net.Server;
  let port = 0;

  before(async () => {
    mkdirSync(ws.path('c1'));
    taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    port = (taken.address() as net.AddressInfo).port;
  });

  after(async () => {
    await new Promise((r) => taken.close(r));
    ws.remove();
  });

  for (const key of ['xds', 'xdsTls', 'http'] as const) {
    it(`listen.${key}: the key, the address and what to do; exit 1`, async () => {
      const listen = { xds: '127.0.0.1:0', xdsTls: '127.0.0.1:0', http: '127.0.0.1:0', [key]: `127.0.0.1:${port}` };
      const config = ws.writeConfig({ clusters: [{ id: 'c1', manifests: './c1' }], listen }, `${key}.yaml`);
      const run = await MeridianProcess.run(['serve', '--config', config]);
      assert.equal(run.code, 1, run.stderr);
      assert.match(run.stderr, new RegExp(`^meridian: SERVER_ERR_LISTEN: listen\\.${key}: 127\\.0\\.0\\.1:${port} is already in use by another process \\(stop it, or set another port\\)$`, 'm'));
      assert.doesNotMatch(run.stderr, /^\s+at /m, 'no stack trace');
    });
  }
});

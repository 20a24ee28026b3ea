/**
 * `meridian check` on manifest clusters, tried as a new user would: the shipped example (two
 * networks, no gateway: a flat mesh) passes without warnings; a mesh where one network has an
 * east-west gateway and another has none warns about the one without.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { MeridianProcess, Workspace } from '../support/meridian-process.ts';

describe('meridian check on manifest clusters', () => {
  const ws = new Workspace();
  after(() => ws.remove());

  it('the shipped example: a flat mesh, no false warning', async () => {
    const run = await MeridianProcess.run(['check', '--config', 'examples/two-clusters/meridian.yaml']);
    assert.equal(run.code, 0, run.stderr);
    assert.doesNotMatch(run.stdout, /warning/);
    assert.match(run.stdout, /^east\s+config\s+yes\s+.*\s+OK$/m);
  });

  it('a multi-network mesh: the network without a gateway is named', async () => {
    ws.copyExample('two-clusters');
    const config = ws.writeConfig(
      {
        clusters: [{ id: 'east', manifests: './east', network: 'net-east' }, { id: 'west', manifests: './west', network: 'net-west' }],
        networks: { 'net-west': { gateways: [{ address: '192.0.2.10' }] } },
      },
      'multi.yaml',
    );
    const run = await MeridianProcess.run(['check', '--config', config]);
    assert.equal(run.code, 0, 'a warning is not a failure');
    assert.match(run.stdout, /^east: warning: no east-west gateway for network net-east/m);
    assert.doesNotMatch(run.stdout, /^west: warning/m);
  });
});

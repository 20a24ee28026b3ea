import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { silentLogger, type PushRequest, type XdsUpdater } from '@meridian/model';
import { Registry } from 'prom-client';
import { PolicyRuntime } from './policy-runtime.ts';

const destinationRule = (subsets: string[]) => ({
  value: {
    apiVersion: 'networking.istio.io/v1',
    kind: 'DestinationRule',
    metadata: { name: 'echo', namespace: 'demo' },
    spec: { host: 'echo.demo.svc.cluster.local', subsets: subsets.map((s) => ({ name: s, labels: { version: s } })) },
  },
  origin: 'policy.yaml:1',
});

function runtime() {
  const pushed: PushRequest[] = [];
  const updater: XdsUpdater = { configUpdate: (request) => pushed.push(request) };
  const policy = new PolicyRuntime({
    domainSuffix: 'cluster.local',
    rootNamespace: 'meridian-system',
    defaultMtlsMode: 'DISABLE',
    primary: 'east',
    logger: silentLogger(),
    registry: new Registry(),
  });
  policy.setUpdater(updater);
  return { policy, pushed };
}

describe('PolicyRuntime pushes', () => {
  it('a policy change is pushed with a key of its kind once compiled; no change, no push', () => {
    const { policy, pushed } = runtime();
    policy.replaceConfig('east', [destinationRule(['v1'])]);
    assert.deepEqual(pushed, [
      // A DestinationRule's key names the host it reaches: only that host's clusters are rebuilt.
      { kind: 'full', configs: [{ kind: 'DestinationRule', namespace: 'demo', name: 'echo', hosts: ['echo.demo.svc.cluster.local'] }], reasons: ['policy@east'] },
    ]);
    assert.equal(policy.policies.traffic !== undefined, true, 'compiled before the push is sent');
    policy.replaceConfig('east', [destinationRule(['v1'])]);
    assert.equal(pushed.length, 1, 'the same documents again change nothing');
    policy.removeConfig('east');
    assert.deepEqual(pushed.at(-1)?.configs, [{ kind: 'DestinationRule', namespace: 'demo', name: 'echo', hosts: ['echo.demo.svc.cluster.local'] }]);
  });

  it("a DestinationRule moved to another host names both; a wildcard host names none (any host)", () => {
    const { policy, pushed } = runtime();
    const rule = (host: string) => ({ ...destinationRule(['v1']), value: { ...destinationRule(['v1']).value, spec: { host, subsets: [{ name: 'v1', labels: { version: 'v1' } }] } } });
    policy.replaceConfig('east', [rule('echo')]);
    policy.replaceConfig('east', [rule('other.demo.svc.cluster.local')]);
    assert.deepEqual(pushed.at(-1)?.configs[0]?.hosts, ['echo.demo.svc.cluster.local', 'other.demo.svc.cluster.local']);
    policy.replaceConfig('east', [rule('*.demo.svc.cluster.local')]);
    assert.equal(pushed.at(-1)?.configs[0]?.hosts, undefined);
  });
});

/**
 * Policy from several clusters: one precedence rule (primary, then cluster ID), identical
 * copies as one, differing copies as a reported conflict, last good version on a bad edit,
 * and the keys each change touches.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PolicyState, PolicyStore, type PolicyDocument } from './policy-store.ts';

function dr(name: string, subsets: string[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'DestinationRule',
    metadata: { name, namespace: 'demo' },
    spec: { host: `${name}.demo.svc.cluster.local`, subsets: subsets.map((s) => ({ name: s, labels: { version: s } })), ...extra },
  };
}

function docs(...values: unknown[]): PolicyDocument[] {
  return values.map((value, i) => ({ value, origin: `policy.yaml#${i + 1}` }));
}

const ECHO = { kind: 'DestinationRule', namespace: 'demo', name: 'echo' } as const;

describe('PolicyStore', () => {
  it('identical copies in several clusters are one object: no conflict, accepted everywhere', () => {
    const store = new PolicyStore({ primary: 'west' });
    store.replace('east', docs(dr('echo', ['v1', 'v2'])));
    // Same content, keys in another order, as another tool would write it.
    const copy = dr('echo', ['v1', 'v2']);
    store.replace('west', docs({ spec: copy['spec'], metadata: copy['metadata'], kind: copy['kind'], apiVersion: 'networking.istio.io/v1beta1' }));
    assert.deepEqual(store.conflicts(), []);
    assert.deepEqual(store.statuses().map((s) => [s.cluster, s.state]), [['west', 'Accepted'], ['east', 'Accepted']]);
    assert.equal(store.objects().length, 1);
  });

  it('differing copies: the primary wins, then the cluster ID that sorts first; each loser is reported', () => {
    const store = new PolicyStore({ primary: 'west' });
    store.replace('east', docs(dr('echo', ['v1'])));
    store.replace('alpha', docs(dr('echo', ['v2'])));
    // No primary copy yet: "alpha" sorts before "east".
    assert.deepEqual(store.get(ECHO)?.spec, dr('echo', ['v2'])['spec']);
    assert.deepEqual(store.conflicts(), [{ ref: ECHO, winner: 'alpha', losers: ['east'] }]);

    const changes = store.replace('west', docs(dr('echo', ['v3'])));
    assert.deepEqual(changes.changed, [ECHO]);
    assert.deepEqual(store.get(ECHO)?.spec, dr('echo', ['v3'])['spec']);
    assert.deepEqual(store.conflicts(), [{ ref: ECHO, winner: 'west', losers: ['alpha', 'east'] }]);
    const conflicted = store.statuses().filter((s) => s.state === PolicyState.Conflicted);
    assert.deepEqual(conflicted.map((s) => [s.cluster, s.overriddenBy]), [['alpha', 'west'], ['east', 'west']]);
  });

  it('a bad edit is rejected with field paths and the last good version keeps applying; nothing else is touched', () => {
    const store = new PolicyStore();
    store.replace('east', docs(dr('echo', ['v1']), dr('other', ['v1'])));
    const bad = dr('echo', ['v1'], { trafficPolicy: { loadBalancer: { simple: 'FASTEST' } } });
    const changes = store.replace('east', docs(bad, dr('other', ['v1'])));
    assert.deepEqual(changes.changed, [], 'the merged view did not change');
    assert.deepEqual(store.get(ECHO)?.spec, dr('echo', ['v1'])['spec']);
    const status = store.statuses().find((s) => s.ref?.name === 'echo');
    assert.equal(status?.state, PolicyState.Rejected);
    assert.equal(status?.servingPrevious, true);
    assert.match(status?.errors[0] ?? '', /^spec\.trafficPolicy\.loadBalancer\.simple: /);
    assert.equal(status?.origin, 'policy.yaml#1');
    assert.equal(store.statuses().find((s) => s.ref?.name === 'other')?.state, PolicyState.Accepted);

    // Fixed: applies, rejection gone.
    assert.deepEqual(store.replace('east', docs(dr('echo', ['v2']), dr('other', ['v1']))).changed, [ECHO]);
    assert.ok(store.statuses().every((s) => s.state === PolicyState.Accepted));
  });

  it('an invalid first version applies nothing and says so', () => {
    const store = new PolicyStore();
    store.upsert('east', { value: dr('echo', ['v1', 'v1']), origin: 'kube:1' });
    assert.equal(store.get(ECHO), undefined);
    const [status] = store.statuses();
    assert.equal(status?.servingPrevious, false);
    assert.match(status?.errors[0] ?? '', /^spec\.subsets\[1\]\.name: subset v1 is defined twice/);
  });

  it('a higher-precedence copy going away hands over to the next; removing a cluster removes only its objects', () => {
    const store = new PolicyStore({ primary: 'west' });
    store.replace('west', docs(dr('echo', ['w'])));
    store.replace('east', docs(dr('echo', ['e']), dr('only-east', ['v1'])));
    assert.deepEqual(store.remove('west', ECHO).changed, [ECHO]);
    assert.deepEqual(store.get(ECHO)?.spec, dr('echo', ['e'])['spec']);
    const changes = store.removeCluster('east');
    assert.deepEqual(new Set(changes.changed.map((r) => r.name)), new Set(['echo', 'only-east']));
    assert.deepEqual(store.objects(), []);
  });

  it('a change that leaves the winning copy as it was changes no key', () => {
    const store = new PolicyStore({ primary: 'west' });
    store.replace('west', docs(dr('echo', ['w'])));
    assert.deepEqual(store.replace('east', docs(dr('echo', ['e']))).changed, []);
    assert.deepEqual(store.upsert('east', { value: dr('echo', ['e2']), origin: 'kube:2' }).changed, []);
  });

  it('documents that are not ours are ignored; ours with an unreadable identity are reported, never applied', () => {
    const store = new PolicyStore();
    store.replace('east', docs(
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'echo' } },
      { apiVersion: 'networking.istio.io/v9', kind: 'VirtualService', metadata: { name: 'x' } },
      { ...dr('echo', ['v1']), metadata: { namespace: 'demo' } },
      dr('echo', ['v1']),
      dr('echo', ['v2']),
    ));
    const rejected = store.statuses().filter((s) => s.state === PolicyState.Rejected).map((s) => [s.origin, s.errors[0]?.split(':')[0]]);
    assert.deepEqual(rejected, [['policy.yaml#2', 'apiVersion'], ['policy.yaml#3', 'metadata.name'], ['policy.yaml#5', 'DestinationRule/demo/echo appears twice in this cluster\'s sources; the first applies']]);
    assert.deepEqual(store.get(ECHO)?.spec, dr('echo', ['v1'])['spec']);
  });
});

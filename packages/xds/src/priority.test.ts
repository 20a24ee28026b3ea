import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Health, type Endpoint, type Locality } from '@meridian/model';
import { describeLocalityMatch, groupByPriority, groupItems, localityMatchLevel, PriorityTier, type LocalityGroup, type Rankable } from './priority.ts';

const loc = (region: string, zone = '', subzone = ''): Locality => ({ region, zone, subzone });
const ep = (address: string, locality: Locality, health: Health = Health.Healthy, stale = false): Endpoint => ({
  address,
  port: 80,
  portName: 'http',
  cluster: 'c',
  network: 'n',
  locality,
  health,
  ...(stale ? { stale } : {}),
});
const STALE = true;

describe('localityMatchLevel', () => {
  const proxy = loc('us-east', 'us-east-1a', 'rack1');
  const cases: Array<[string, Locality, Locality, number]> = [
    ['same region/zone/subzone', proxy, loc('us-east', 'us-east-1a', 'rack1'), 0],
    ['same region/zone, other subzone', proxy, loc('us-east', 'us-east-1a', 'rack2'), 1],
    ['same region, other zone', proxy, loc('us-east', 'us-east-1b', 'rack1'), 2],
    ['other region', proxy, loc('us-west', 'us-east-1a', 'rack1'), 3],
    ['proxy without locality prefers nothing', loc(''), loc('us-west', 'z'), 0],
    ['endpoint without locality is remote to a located proxy', proxy, loc(''), 3],
  ];
  for (const [name, p, e, want] of cases) {
    it(name, () => assert.equal(localityMatchLevel(p, e), want));
  }
});

describe('groupByPriority', () => {
  it('orders localities of one priority by region, zone, subzone in code units, whatever the host locale', () => {
    const proxy = loc('r', 'z', 'rack2');
    const groups = groupByPriority(proxy, [
      ep('10.0.0.1', loc('r', 'z', 'rack1')),
      ep('10.0.0.2', loc('r', 'z', '')),
      ep('10.0.0.3', loc('s', 'za')),
      ep('10.0.0.4', loc('s', 'Zb')),
    ]);
    assert.deepEqual(
      groups.map((g) => `${g.priority} ${g.locality.region}/${g.locality.zone}/${g.locality.subzone}`),
      ['0 r/z/', '0 r/z/rack1', '1 s/Zb/', '1 s/za/'],
    );
  });

  it('numbers priorities without gaps from 0', () => {
    const proxy = loc('us-east', 'us-east-1a');
    // Levels present: 0 (same zone) and 3 (other region): must become 0 and 1.
    const groups = groupByPriority(proxy, [ep('10.0.0.1', loc('us-east', 'us-east-1a')), ep('10.0.1.1', loc('us-west', 'us-west-1a'))]);
    assert.deepEqual(
      groups.map((g) => [g.locality.region, g.priority, g.level]),
      [
        ['us-east', 0, 0],
        ['us-west', 1, 3],
      ],
    );
  });

  it('puts a locality whose endpoints are all unhealthy after every healthy one', () => {
    const proxy = loc('us-east', 'us-east-1a');
    const groups = groupByPriority(proxy, [
      ep('10.0.0.1', loc('us-east', 'us-east-1a'), Health.Unhealthy),
      ep('10.0.1.1', loc('us-west', 'us-west-1a')),
    ]);
    assert.deepEqual(
      groups.map((g) => [g.locality.region, g.priority]),
      [
        ['us-west', 0],
        ['us-east', 1],
      ],
    );
  });

  it('weights a locality by its healthy endpoints, never below 1', () => {
    const a = loc('r', 'a');
    const b = loc('r', 'b');
    const groups = groupByPriority(loc(''), [
      ep('1', a),
      ep('2', a),
      ep('3', a, Health.Unhealthy),
      ep('4', b, Health.Unhealthy),
      ep('5', b, Health.Draining),
    ]);
    const weights = Object.fromEntries(groups.map((g) => [g.locality.zone, g.weight]));
    assert.deepEqual(weights, { a: 2, b: 2 });
    assert.ok(groups.every((g) => g.weight >= 1));
  });

  it('keeps every endpoint of a locality together, in registry order', () => {
    const a = loc('r', 'a');
    const groups = groupByPriority(loc('r', 'a'), [ep('1', a), ep('2', loc('x')), ep('3', a)]);
    assert.deepEqual(groups[0]?.endpoints.map((e) => e.address), ['1', '3']);
  });

  it('returns nothing for no endpoints', () => {
    assert.deepEqual(groupByPriority(loc('r'), []), []);
  });
});

describe('describeLocalityMatch', () => {
  const proxy = loc('us-east', 'us-east-1a', 'rack1');
  const cases: Array<[Locality, Locality, string]> = [
    [proxy, loc('us-east', 'us-east-1a', 'rack1'), 'same region/zone/subzone (us-east/us-east-1a/rack1)'],
    [proxy, loc('us-east', 'us-east-1a', 'rack2'), 'same region/zone, other subzone (us-east/us-east-1a)'],
    [loc('us-east', 'us-east-1a'), loc('us-east', 'us-east-1a'), 'same region/zone (us-east/us-east-1a)'],
    [loc('us-east'), loc('us-east'), 'same region (us-east)'],
    [proxy, loc('us-east', 'us-east-1b'), 'same region, other zone (us-east)'],
    [proxy, loc('us-west', 'us-west-1a'), 'other region'],
    [loc(''), loc('us-west'), 'proxy states no locality'],
  ];
  for (const [p, e, want] of cases) it(want, () => assert.equal(describeLocalityMatch(p, e), want));
});

describe('groupByPriority with stale clusters', () => {
  const proxy = loc('us-east', 'us-east-1a');
  const here = loc('us-east', 'us-east-1a');
  const near = loc('us-east', 'us-east-1b');
  const far = loc('us-west', 'us-west-1a');
  const summary = (groups: ReadonlyArray<LocalityGroup<Endpoint>>) =>
    groups.map((g) => [`${g.locality.region}/${g.locality.zone}`, g.tier, g.priority, g.endpoints.map((e) => e.address).join(',')]);

  const cases: Array<{ name: string; endpoints: Endpoint[]; want: Array<[string, string, number, string]> }> = [
    {
      name: 'a stale endpoint in the proxy zone ranks below a fresh one in another region',
      endpoints: [ep('1', here, Health.Healthy, STALE), ep('2', far)],
      want: [
        ['us-west/us-west-1a', PriorityTier.Fresh, 0, '2'],
        ['us-east/us-east-1a', PriorityTier.Stale, 1, '1'],
      ],
    },
    {
      name: 'stale localities keep their own locality order, below every fresh one',
      endpoints: [ep('1', far, Health.Healthy, STALE), ep('2', here, Health.Healthy, STALE), ep('3', near), ep('4', far)],
      want: [
        ['us-east/us-east-1b', PriorityTier.Fresh, 0, '3'],
        ['us-west/us-west-1a', PriorityTier.Fresh, 1, '4'],
        ['us-east/us-east-1a', PriorityTier.Stale, 2, '2'],
        ['us-west/us-west-1a', PriorityTier.Stale, 3, '1'],
      ],
    },
    {
      // Decision: a stale cluster's workloads most likely still serve; unhealthy ones do not.
      name: 'stale healthy ranks above a locality with no healthy endpoint',
      endpoints: [ep('1', here, Health.Unhealthy), ep('2', far, Health.Healthy, STALE)],
      want: [
        ['us-west/us-west-1a', PriorityTier.Stale, 0, '2'],
        ['us-east/us-east-1a', PriorityTier.NoHealthy, 1, '1'],
      ],
    },
    {
      name: 'a locality with fresh and stale endpoints is split into two priorities',
      endpoints: [ep('1', here), ep('2', here, Health.Healthy, STALE), ep('3', here, Health.Unhealthy), ep('4', here, Health.Unhealthy, STALE)],
      want: [
        ['us-east/us-east-1a', PriorityTier.Fresh, 0, '1,3'],
        ['us-east/us-east-1a', PriorityTier.Stale, 1, '2,4'],
      ],
    },
    {
      name: 'fresh and stale endpoints of a locality with none healthy share one group (one locality per priority)',
      endpoints: [ep('1', near, Health.Unhealthy), ep('2', near, Health.Draining, STALE), ep('3', here)],
      want: [
        ['us-east/us-east-1a', PriorityTier.Fresh, 0, '3'],
        ['us-east/us-east-1b', PriorityTier.NoHealthy, 1, '1,2'],
      ],
    },
    {
      name: 'priorities are renumbered without gaps across all three bands',
      endpoints: [ep('1', far), ep('2', far, Health.Healthy, STALE), ep('3', near, Health.Unhealthy)],
      want: [
        ['us-west/us-west-1a', PriorityTier.Fresh, 0, '1'],
        ['us-west/us-west-1a', PriorityTier.Stale, 1, '2'],
        ['us-east/us-east-1b', PriorityTier.NoHealthy, 2, '3'],
      ],
    },
    {
      name: 'only stale endpoints: they start at priority 0',
      endpoints: [ep('1', far, Health.Healthy, STALE)],
      want: [['us-west/us-west-1a', PriorityTier.Stale, 0, '1']],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const groups = groupByPriority(proxy, c.endpoints);
      assert.deepEqual(summary(groups), c.want);
      assert.ok(groups.every((g) => g.weight >= 1));
    });
  }
});

describe('groupItems address dedupe', () => {
  interface Item extends Rankable {
    readonly id: string;
    readonly address: string;
    readonly weight: number;
  }
  const item = (id: string, address: string, locality: Locality, weight = 1, stale = false): Item => ({
    id,
    address,
    locality,
    health: Health.Healthy,
    weight,
    stale,
  });
  const proxy = loc('us-east', 'us-east-1a');
  const merge = (a: Item, b: Item): Item => ({ ...a, id: `${a.id}+${b.id}`, weight: a.weight + b.weight });

  it('folds a duplicate at the same priority into the first locality, weights added', () => {
    const { groups, duplicates } = groupItems(proxy, [item('a', 'gw', loc('us-west', 'b'), 1), item('b', 'gw', loc('us-west', 'a'), 3)], {
      addressOf: (i) => i.address,
      merge,
    });
    assert.deepEqual(
      groups.map((g) => [g.locality.zone, g.priority, g.weight, g.endpoints.map((e) => `${e.id}:${e.weight}`)]),
      [['a', 0, 4, ['b+a:4']]],
    );
    assert.deepEqual(duplicates.map((d) => [d.item.id, d.merged, d.keptIn.locality.zone]), [['a', true, 'a']]);
  });

  it('drops a duplicate at a worse priority and renumbers what is left', () => {
    const { groups, duplicates } = groupItems(
      proxy,
      [item('far', 'gw', loc('us-west')), item('here', 'gw', loc('us-east', 'us-east-1a')), item('stale', 'gw', loc('us-east', 'us-east-1a'), 1, true), item('x', 'other', loc('eu'), 1, true)],
      { addressOf: (i) => i.address, merge },
    );
    assert.deepEqual(
      groups.map((g) => [g.locality.region, g.tier, g.priority, g.endpoints.map((e) => e.id)]),
      [
        ['us-east', PriorityTier.Fresh, 0, ['here']],
        ['eu', PriorityTier.Stale, 1, ['x']],
      ],
    );
    assert.deepEqual(duplicates.map((d) => [d.item.id, d.merged, d.keptIn.priority]), [
      ['far', false, 0],
      ['stale', false, 0],
    ]);
  });

  it('without a merge function duplicates are dropped even at the same priority', () => {
    const { groups, duplicates } = groupItems(proxy, [item('a', 'x', loc('r', 'a')), item('b', 'x', loc('r', 'b'))], { addressOf: (i) => i.address });
    assert.deepEqual(groups.map((g) => g.endpoints.map((e) => e.id)), [['a']]);
    assert.deepEqual(duplicates.map((d) => [d.item.id, d.merged]), [['b', false]]);
  });

  it('weights a locality by the sum of its healthy item weights', () => {
    const { groups } = groupItems(loc(''), [item('a', '1', loc('r'), 3), item('b', '2', loc('r'), 2), { ...item('c', '3', loc('r'), 5), health: Health.Unhealthy }]);
    assert.equal(groups[0]?.weight, 5);
  });
});

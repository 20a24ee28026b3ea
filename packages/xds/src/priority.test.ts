import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Health, type Endpoint, type Locality } from '@meridian/model';
import { groupByPriority, localityMatchLevel } from './priority.ts';

const loc = (region: string, zone = '', subzone = ''): Locality => ({ region, zone, subzone });
const ep = (address: string, locality: Locality, health: Health = Health.Healthy): Endpoint => ({
  address,
  port: 80,
  portName: 'http',
  cluster: 'c',
  network: 'n',
  locality,
  health,
});

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

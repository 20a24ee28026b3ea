/**
 * A DestinationRule's localityLbSetting orders the priorities a proxy is sent
 * (https://istio.io/latest/docs/reference/config/networking/destination-rule/#LocalityLoadBalancerSetting),
 * checked through the endpoint selection EDS is built from.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Health, type Endpoint, type LocalityLbRule, type Locality } from '@meridian/model';
import { selectEndpoints, type SelectionProxy } from './endpoint-selection.ts';

const loc = (region: string, zone = `${region}-1a`): Locality => ({ region, zone, subzone: '' });
const ep = (address: string, locality: Locality, cluster: string, labels: Record<string, string> = {}): Endpoint => ({
  address,
  port: 8080,
  portName: 'http',
  cluster,
  network: 'flat',
  locality,
  health: Health.Healthy,
  labels,
});
const ENDPOINTS = [
  ep('10.0.0.1', loc('us-east'), 'east-a', { tier: 'gold' }),
  ep('10.0.0.2', loc('us-east', 'us-east-1b'), 'east-b'),
  ep('10.1.0.1', loc('eu-west'), 'europe', { tier: 'gold' }),
  ep('10.2.0.1', loc('ap-south'), 'asia'),
];
const PROXY: SelectionProxy = { cluster: 'east-a', network: 'flat', locality: loc('us-east'), labels: { tier: 'gold' } };
const rule = (r: Partial<LocalityLbRule>): LocalityLbRule => ({ enabled: true, failover: [], failoverPriority: [], distribute: [], ...r });

/** Addresses per priority, best first. */
function priorities(locality?: LocalityLbRule): string[][] {
  const selection = selectEndpoints(PROXY, ENDPOINTS, () => [], locality ? { locality } : {});
  const out: string[][] = [];
  for (const g of selection.localities) (out[g.priority] ??= []).push(...g.endpoints.map((e) => e.address));
  return out.map((p) => p.sort());
}

describe('localityLbSetting', () => {
  it('without one: own zone, own region, then the other regions together', () => {
    assert.deepEqual(priorities(), [['10.0.0.1'], ['10.0.0.2'], ['10.1.0.1', '10.2.0.1']]);
  });

  it('failover: the named region right after the own one, before every other', () => {
    assert.deepEqual(priorities(rule({ failover: [{ from: 'us-east', to: 'ap-south' }] })), [['10.0.0.1'], ['10.0.0.2'], ['10.2.0.1'], ['10.1.0.1']]);
    assert.deepEqual(priorities(rule({ failover: [{ from: 'eu-west', to: 'ap-south' }] })), priorities(), 'a rule for another region changes nothing here');
  });

  it('failoverPriority: by the longest run of leading labels that match the proxy, cluster and workload labels included', () => {
    assert.deepEqual(priorities(rule({ failoverPriority: ['topology.kubernetes.io/region', 'topology.istio.io/cluster'] })), [['10.0.0.1'], ['10.0.0.2'], ['10.1.0.1', '10.2.0.1']]);
    // Workload label first: the gold endpoint in Europe beats the same region's other cluster.
    assert.deepEqual(priorities(rule({ failoverPriority: ['tier', 'topology.kubernetes.io/region'] })), [['10.0.0.1'], ['10.1.0.1'], ['10.0.0.2', '10.2.0.1']]);
  });

  it('distribute: one priority, each locality its share (split within a pattern by weight), the rest left out', () => {
    const distribute = [{ from: 'us-east/*', to: { 'us-east/*': 80, 'eu-west/eu-west-1a': 20 } }];
    const selection = selectEndpoints(PROXY, ENDPOINTS, () => [], { locality: rule({ distribute }) });
    const shares = selection.localities.map((g) => [g.priority, `${g.locality.region}/${g.locality.zone}`, g.weight, g.endpoints.map((e) => e.address).join()]);
    assert.deepEqual(shares, [
      [0, 'us-east/us-east-1a', 40, '10.0.0.1'],
      [0, 'us-east/us-east-1b', 40, '10.0.0.2'],
      [0, 'eu-west/eu-west-1a', 20, '10.1.0.1'],
    ]);
    const row = selection.rows.find((r) => r.address === '10.2.0.1');
    assert.equal(row?.sent, false);
    assert.match(row?.reason ?? '', /no share in the DestinationRule's distribute for us-east\/us-east-1a\//);
    // For a proxy in another region no entry applies: the default order.
    const elsewhere = selectEndpoints({ ...PROXY, locality: loc('eu-west') }, ENDPOINTS, () => [], { locality: rule({ distribute }) });
    assert.deepEqual(elsewhere.localities.map((g) => g.priority), [0, 1, 1, 1]);
  });

  it('enabled: false: no locality preference, one priority', () => {
    assert.deepEqual(priorities(rule({ enabled: false })), [['10.0.0.1', '10.0.0.2', '10.1.0.1', '10.2.0.1']]);
  });
});

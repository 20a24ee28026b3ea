import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { outboundClusterName, parseClusterName, parseInboundClusterName, parseOutboundClusterName, parseSniName } from './resource-names.ts';

describe('resource names', () => {
  it("parses Istio's cluster names into a typed union, subsets included", () => {
    assert.deepEqual(parseClusterName('outbound|7070||echo.demo.svc.cluster.local'), { direction: 'outbound', port: 7070, subset: '', hostname: 'echo.demo.svc.cluster.local' });
    assert.deepEqual(parseClusterName('outbound|80|v1|echo.demo.svc.cluster.local'), { direction: 'outbound', port: 80, subset: 'v1', hostname: 'echo.demo.svc.cluster.local' });
    assert.deepEqual(parseClusterName('inbound|8080||'), { direction: 'inbound', port: 8080 });
    for (const bad of ['outbound|0||a', 'outbound|70000||a', 'outbound|1e3||a', 'outbound|80||', 'outbound|80||a|b', 'inbound|80|v1|', 'inbound|80||a', 'sideways|80||a', 'garbage', '']) {
      assert.equal(parseClusterName(bad), undefined, bad);
    }
  });

  it('an outbound cluster names its subset, empty for the whole service; inbound and SNI names parse on their own', () => {
    assert.deepEqual(parseOutboundClusterName('outbound|7070||echo.demo.svc.cluster.local'), { hostname: 'echo.demo.svc.cluster.local', port: 7070, subset: '' });
    assert.deepEqual(parseOutboundClusterName('outbound|7070|v1|echo.demo.svc.cluster.local'), { hostname: 'echo.demo.svc.cluster.local', port: 7070, subset: 'v1' });
    assert.equal(outboundClusterName('echo.demo.svc.cluster.local', 7070, 'v1'), 'outbound|7070|v1|echo.demo.svc.cluster.local');
    assert.equal(parseInboundClusterName('inbound|9080||'), 9080);
    assert.equal(parseInboundClusterName('outbound|9080||a'), undefined);
    assert.deepEqual(parseSniName('outbound_.7070_._.echo.demo.svc.cluster.local'), { hostname: 'echo.demo.svc.cluster.local', port: 7070, subset: '' });
    assert.deepEqual(parseSniName('outbound_.7070_.v1_.echo.demo.svc.cluster.local'), { hostname: 'echo.demo.svc.cluster.local', port: 7070, subset: 'v1' });
    assert.equal(parseSniName('outbound_.7070_.v_1_.echo.demo.svc.cluster.local'), undefined);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { matchesFields, matchesLabels, parseFieldSelector, parseLabelSelector } from './selectors.ts';

function labels(selector: string, l: Record<string, string>): boolean {
  const parsed = parseLabelSelector(selector);
  assert.ok(parsed.ok, `parse ${selector}`);
  return matchesLabels(parsed.value, l);
}

describe('label selectors', () => {
  const cases: [string, Record<string, string>, boolean][] = [
    ['', { a: '1' }, true],
    ['app=web', { app: 'web' }, true],
    ['app==web', { app: 'web' }, true],
    ['app=web', { app: 'db' }, false],
    ['app!=web', { app: 'db' }, true],
    ['app!=web', {}, true],
    ['app in (web, db)', { app: 'db' }, true],
    ['app in (web,db)', { app: 'cache' }, false],
    ['app notin (web,db)', { app: 'cache' }, true],
    ['app notin (web,db)', {}, true],
    ['tier', { tier: '' }, true],
    ['tier', {}, false],
    ['!tier', {}, true],
    ['app=web,tier in (fe),!canary', { app: 'web', tier: 'fe' }, true],
    ['app=web,tier in (fe),!canary', { app: 'web', tier: 'fe', canary: 'y' }, false],
    ['topology.kubernetes.io/zone=z1', { 'topology.kubernetes.io/zone': 'z1' }, true],
  ];
  for (const [sel, l, want] of cases) {
    it(`${JSON.stringify(sel)} on ${JSON.stringify(l)} → ${want}`, () => assert.equal(labels(sel, l), want));
  }

  it('rejects malformed requirements', () => {
    assert.equal(parseLabelSelector('app=(x').ok, false);
    assert.equal(parseLabelSelector('a in b').ok, false);
  });
});

describe('field selectors', () => {
  const obj = { metadata: { name: 'a', namespace: 'ns1' }, spec: { nodeName: 'n1' } };
  it('matches metadata.name / metadata.namespace / nested fields with = and !=', () => {
    const m = (s: string): boolean => {
      const p = parseFieldSelector(s);
      assert.ok(p.ok);
      return matchesFields(p.value, obj);
    };
    assert.equal(m('metadata.name=a'), true);
    assert.equal(m('metadata.name==b'), false);
    assert.equal(m('metadata.namespace!=ns2'), true);
    assert.equal(m('metadata.name=a,metadata.namespace=ns1'), true);
    assert.equal(m('spec.nodeName=n1'), true);
  });
});

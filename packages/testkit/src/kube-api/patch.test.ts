import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { jsonPatch, mergePatch, patchTypeOf } from './patch.ts';

describe('patches', () => {
  it('merge patch follows RFC 7386 (null deletes, objects merge, arrays replace)', () => {
    const out = mergePatch({ a: { b: 1, c: 2 }, l: [1, 2], keep: true }, { a: { b: null, d: 3 }, l: [9] });
    assert.deepEqual(out, { a: { c: 2, d: 3 }, l: [9], keep: true });
  });

  it('JSON patch supports add/replace/remove/test/move/copy and reports failures', () => {
    const r = jsonPatch({ metadata: { labels: { a: '1' } }, list: [1, 2] }, [
      { op: 'add', path: '/metadata/labels/b', value: '2' },
      { op: 'replace', path: '/metadata/labels/a', value: 'x' },
      { op: 'add', path: '/list/-', value: 3 },
      { op: 'remove', path: '/list/0' },
      { op: 'test', path: '/list', value: [2, 3] },
      { op: 'copy', from: '/metadata/labels/b', path: '/metadata/labels/c' },
      { op: 'move', from: '/metadata/labels/c', path: '/metadata/labels/d' },
    ]);
    assert.ok(r.ok);
    assert.deepEqual(r.value, { metadata: { labels: { a: 'x', b: '2', d: '2' } }, list: [2, 3] });
    assert.equal(jsonPatch({}, [{ op: 'replace', path: '/nope', value: 1 }]).ok, false);
    assert.equal(jsonPatch({ a: 1 }, [{ op: 'test', path: '/a', value: 2 }]).ok, false);
    assert.equal(jsonPatch({}, { op: 'add' }).ok, false);
  });

  it('recognises patch content types, with parameters', () => {
    assert.equal(patchTypeOf('application/merge-patch+json; charset=utf-8'), 'application/merge-patch+json');
    assert.equal(patchTypeOf('application/apply-patch+yaml'), undefined);
  });
});

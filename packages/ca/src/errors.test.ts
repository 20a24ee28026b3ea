import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MeridianError } from '@meridian/model';
import { CaError, CaErrorCode, caErrorKind } from './errors.ts';

describe('caErrorKind', () => {
  it('maps caller mistakes, readiness and everything else', () => {
    assert.equal(caErrorKind(new CaError(CaErrorCode.CsrInvalid, 'x')), 'INVALID_ARGUMENT');
    assert.equal(caErrorKind(new CaError(CaErrorCode.San, 'x')), 'INVALID_ARGUMENT');
    assert.equal(caErrorKind(new CaError(CaErrorCode.Ttl, 'x')), 'INVALID_ARGUMENT');
    assert.equal(caErrorKind(new CaError(CaErrorCode.NotReady, 'x')), 'UNAVAILABLE');
    assert.equal(caErrorKind(new CaError(CaErrorCode.KeyMismatch, 'x')), 'INTERNAL');
    assert.equal(caErrorKind(new Error('boom')), 'INTERNAL');
    assert.equal(caErrorKind(new MeridianError('CA_ERR_SAN', 'not a CaError instance')), 'INTERNAL');
  });

  it('is a MeridianError with code and cause', () => {
    const cause = new Error('inner');
    const err = new CaError(CaErrorCode.Chain, 'outer', { cause });
    assert.ok(err instanceof MeridianError);
    assert.equal(err.code, 'CA_ERR_CHAIN');
    assert.equal(err.cause, cause);
  });
});

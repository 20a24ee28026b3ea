import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { describe, it } from 'node:test';
import { certificateServiceDefinition, parseValidity } from './certificate-service.ts';

// Istio's agent encodes these bytes; the field numbers are the compatibility contract.
describe('ca.proto wire format', () => {
  const method = certificateServiceDefinition()['CreateCertificate'];
  assert.ok(method);

  it('is served at Istio\'s path', () => {
    assert.equal(method.path, '/istio.v1.auth.IstioCertificateService/CreateCertificate');
  });

  it('puts csr in field 1 and validity_duration (varint) in field 3', () => {
    const bytes = method.requestSerialize({ csr: 'a', validity_duration: '3600' });
    assert.equal(Buffer.from(bytes).toString('hex'), '0a0161' + '18901c');
    assert.deepEqual(method.requestDeserialize(Buffer.from('0a0161189' + '01c', 'hex')), { csr: 'a', validity_duration: '3600', metadata: null });
  });

  it('decodes metadata from field 4 as a Struct', () => {
    // Struct{fields: {"k": Value{string_value: "v"}}}: field 4 → map entry → key "k", value string_value (field 3).
    const struct = Buffer.from('0a080a016b12031a0176', 'hex');
    const bytes = Buffer.concat([Buffer.from([0x22, struct.length]), struct]);
    const req = method.requestDeserialize(bytes) as { metadata: { fields: Record<string, { stringValue?: string; string_value?: string }> } };
    const v = req.metadata.fields['k'];
    assert.equal(v?.string_value ?? v?.stringValue, 'v');
  });

  it('returns cert_chain as repeated field 1', () => {
    const bytes = method.responseSerialize({ cert_chain: ['x', 'yz'] });
    assert.equal(Buffer.from(bytes).toString('hex'), '0a0178' + '0a02797a');
  });
});

describe('parseValidity', () => {
  it('maps 0 and absent to the default and refuses negatives and junk', () => {
    assert.equal(parseValidity(undefined), undefined);
    assert.equal(parseValidity('0'), undefined);
    assert.equal(parseValidity('3600'), 3600);
    assert.equal(parseValidity(7200), 7200);
    assert.equal(parseValidity('9223372036854775807'), Number.MAX_SAFE_INTEGER);
    assert.throws(() => parseValidity('-1'), /CA_ERR_TTL|negative/);
    assert.throws(() => parseValidity('1.5'), /not an integer/);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classifyRequest, type RequestKind, type SotwRequestView, type TypeStreamState } from './classify.ts';

const req = (r: Partial<SotwRequestView>): SotwRequestView => ({
  version_info: '',
  response_nonce: '',
  resource_names: [],
  ...r,
});
const state = (names: string[] | undefined, lastNonce: string | undefined): TypeStreamState => ({
  names: names ? new Set(names) : undefined,
  lastNonce,
});

describe('classifyRequest', () => {
  const cases: Array<{
    name: string;
    state: TypeStreamState | undefined;
    request: SotwRequestView;
    wildcardCapable?: boolean;
    kind: RequestKind;
    respond: boolean;
    fullState?: boolean;
    added?: string[];
    removed?: string[];
    names?: string[] | '*';
  }> = [
    {
      name: 'first request on a stream',
      state: undefined,
      request: req({ resource_names: ['a'] }),
      kind: 'initial',
      respond: true,
      fullState: true,
      names: ['a'],
    },
    {
      name: 'reconnect: a version but no nonce still gets full state',
      state: undefined,
      request: req({ version_info: 'v1', resource_names: ['a'] }),
      kind: 'initial',
      respond: true,
      fullState: true,
    },
    {
      name: 'reconnect carrying a nonce from an older stream',
      state: undefined,
      request: req({ version_info: 'v1', response_nonce: 'old-7', resource_names: ['a'] }),
      kind: 'initial',
      respond: true,
      fullState: true,
    },
    {
      name: 'empty names for an EDS-like type subscribe to nothing',
      state: undefined,
      request: req({}),
      wildcardCapable: false,
      kind: 'initial',
      respond: false,
      names: [],
    },
    {
      name: 'empty names for LDS/CDS on the first request is a wildcard',
      state: undefined,
      request: req({}),
      wildcardCapable: true,
      kind: 'initial',
      respond: true,
      names: '*',
    },
    {
      name: 'ACK of the latest nonce with the same names: nothing to send',
      state: state(['a'], 'n2'),
      request: req({ version_info: 'v2', response_nonce: 'n2', resource_names: ['a'] }),
      kind: 'ack',
      respond: false,
    },
    {
      name: 'ACK that adds a name (same nonce, same version) answers the new name',
      state: state(['a'], 'n2'),
      request: req({ version_info: 'v2', response_nonce: 'n2', resource_names: ['a', 'b'] }),
      kind: 'ack',
      respond: true,
      added: ['b'],
    },
    {
      name: 'ACK that only removes a name needs no response',
      state: state(['a', 'b'], 'n2'),
      request: req({ version_info: 'v2', response_nonce: 'n2', resource_names: ['a'] }),
      kind: 'ack',
      respond: false,
      removed: ['b'],
    },
    {
      name: 'NACK of the latest nonce is recorded, not answered',
      state: state(['a'], 'n2'),
      request: req({ version_info: 'v1', response_nonce: 'n2', resource_names: ['a'], error_detail: { code: 14, message: 'bad' } }),
      kind: 'nack',
      respond: false,
    },
    {
      name: 'NACK that also subscribes a new name answers the name',
      state: state(['a'], 'n2'),
      request: req({ version_info: 'v1', response_nonce: 'n2', resource_names: ['a', 'c'], error_detail: { code: 14, message: 'bad' } }),
      kind: 'nack',
      respond: true,
      added: ['c'],
    },
    {
      name: 'stale nonce is not an ACK, but its new names count',
      state: state(['a'], 'n3'),
      request: req({ version_info: 'v1', response_nonce: 'n2', resource_names: ['a', 'b'] }),
      kind: 'stale',
      respond: true,
      added: ['b'],
      names: ['a', 'b'],
    },
    {
      name: 'stale nonce with unchanged names: wait for the ACK of the newest',
      state: state(['a'], 'n3'),
      request: req({ version_info: 'v1', response_nonce: 'n2', resource_names: ['a'] }),
      kind: 'stale',
      respond: false,
    },
    {
      name: 'empty nonce on a stream that was already answered: start over with full state',
      state: state(['a'], 'n3'),
      request: req({ resource_names: ['a'] }),
      kind: 'initial',
      respond: true,
      fullState: true,
    },
    {
      name: 'explicit * subscribes to everything',
      state: state(['a'], 'n1'),
      request: req({ version_info: 'v1', response_nonce: 'n1', resource_names: ['*'] }),
      wildcardCapable: true,
      kind: 'ack',
      respond: true,
      fullState: true,
      names: '*',
    },
    {
      name: 'wildcard stays wildcard when later requests carry no names',
      state: state(undefined, 'n1'),
      request: req({ version_info: 'v1', response_nonce: 'n1' }),
      wildcardCapable: true,
      kind: 'ack',
      respond: false,
      names: '*',
    },
  ];

  for (const c of cases) {
    it(c.name, () => {
      const got = classifyRequest(c.state, c.request, c.wildcardCapable ?? false);
      assert.equal(got.kind, c.kind);
      assert.equal(got.respond, c.respond);
      if (c.fullState !== undefined) assert.equal(got.fullState, c.fullState);
      if (c.added) assert.deepEqual(got.added, c.added);
      if (c.removed) assert.deepEqual(got.removed, c.removed);
      if (c.names === '*') assert.equal(got.names, undefined);
      else if (c.names) assert.deepEqual(got.names && [...got.names], c.names);
    });
  }
});

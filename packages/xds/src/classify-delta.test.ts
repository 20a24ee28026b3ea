import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classifyDeltaRequest, type DeltaRequestKind, type DeltaRequestView, type DeltaTypeStreamState } from './classify-delta.ts';

const req = (r: Partial<DeltaRequestView>): DeltaRequestView => ({
  resource_names_subscribe: [],
  resource_names_unsubscribe: [],
  response_nonce: '',
  ...r,
});

const state = (
  s: { names?: string[]; wildcard?: boolean; legacy?: boolean; lastNonce?: string; outstanding?: string[] } = {},
): DeltaTypeStreamState => ({
  names: new Set(s.names ?? []),
  wildcard: s.wildcard ?? false,
  legacyWildcard: s.legacy ?? false,
  lastNonce: s.lastNonce,
  isOutstanding: (n) => (s.outstanding ?? []).includes(n) || n === s.lastNonce,
});

describe('classifyDeltaRequest', () => {
  const cases: Array<{
    name: string;
    state: DeltaTypeStreamState | undefined;
    request: DeltaRequestView;
    wildcardCapable?: boolean;
    kind: DeltaRequestKind;
    respond: boolean;
    latest?: boolean;
    wildcard?: boolean;
    legacy?: boolean;
    names?: string[];
    mustSend?: string[];
    unsubscribed?: string[];
    known?: Record<string, string>;
    wildcardStarted?: boolean;
    wildcardStopped?: boolean;
  }> = [
    {
      name: 'initial CDS with no names: legacy wildcard',
      state: undefined,
      request: req({}),
      wildcardCapable: true,
      kind: 'initial',
      respond: true,
      wildcard: true,
      legacy: true,
    },
    {
      name: 'initial CDS with explicit *: wildcard, not legacy',
      state: undefined,
      request: req({ resource_names_subscribe: ['*'] }),
      wildcardCapable: true,
      kind: 'initial',
      respond: true,
      wildcard: true,
      legacy: false,
      names: [],
    },
    {
      name: 'initial CDS with * and a name: both',
      state: undefined,
      request: req({ resource_names_subscribe: ['*', 'c1'] }),
      wildcardCapable: true,
      kind: 'initial',
      respond: true,
      wildcard: true,
      names: ['c1'],
      mustSend: ['c1'],
    },
    {
      name: 'initial CDS with names only: no wildcard',
      state: undefined,
      request: req({ resource_names_subscribe: ['c1'] }),
      wildcardCapable: true,
      kind: 'initial',
      respond: true,
      wildcard: false,
      names: ['c1'],
    },
    {
      name: 'initial EDS with no names subscribes to nothing: no response',
      state: undefined,
      request: req({}),
      kind: 'initial',
      respond: false,
      wildcard: false,
      names: [],
    },
    {
      name: '* means nothing special for EDS',
      state: undefined,
      request: req({ resource_names_subscribe: ['*'] }),
      kind: 'initial',
      respond: false,
      wildcard: false,
      names: [],
    },
    {
      name: 'initial EDS names: each must be answered',
      state: undefined,
      request: req({ resource_names_subscribe: ['a', 'b'] }),
      kind: 'initial',
      respond: true,
      names: ['a', 'b'],
      mustSend: ['a', 'b'],
    },
    {
      name: 'reconnect: initial_resource_versions within the subscription are known; only the others must be sent',
      state: undefined,
      request: req({ resource_names_subscribe: ['a', 'b'], initial_resource_versions: { a: 'v1', zz: 'v9' } }),
      kind: 'initial',
      respond: true,
      names: ['a', 'b'],
      mustSend: ['b'],
      known: { a: 'v1' },
    },
    {
      name: 'reconnect of a wildcard client: every version it has is known',
      state: undefined,
      request: req({ initial_resource_versions: { c1: 'v1', gone: 'v2' } }),
      wildcardCapable: true,
      kind: 'initial',
      respond: true,
      wildcard: true,
      known: { c1: 'v1', gone: 'v2' },
      mustSend: [],
    },
    {
      name: 'initial with a stray nonce from an older stream is still initial',
      state: undefined,
      request: req({ resource_names_subscribe: ['a'], response_nonce: 'old-3' }),
      kind: 'initial',
      respond: true,
    },
    {
      name: 'subscribe without a nonce: a subscription change, new names answered',
      state: state({ names: ['a'], lastNonce: 'n1' }),
      request: req({ resource_names_subscribe: ['b'] }),
      kind: 'subscription',
      respond: true,
      names: ['a', 'b'],
      mustSend: ['b'],
    },
    {
      name: 're-subscribing a name already subscribed is answered again',
      state: state({ names: ['a'], lastNonce: 'n1' }),
      request: req({ resource_names_subscribe: ['a'] }),
      kind: 'subscription',
      respond: true,
      mustSend: ['a'],
    },
    {
      name: 'unsubscribe: state removed, nothing sent',
      state: state({ names: ['a', 'b'], lastNonce: 'n1' }),
      request: req({ resource_names_unsubscribe: ['b', 'never'] }),
      kind: 'subscription',
      respond: false,
      names: ['a'],
      unsubscribed: ['b'],
    },
    {
      name: 'ACK of the newest nonce: recorded, nothing sent',
      state: state({ names: ['a'], lastNonce: 'n2' }),
      request: req({ response_nonce: 'n2' }),
      kind: 'ack',
      latest: true,
      respond: false,
    },
    {
      name: 'ACK of an older outstanding response still answers that response',
      state: state({ names: ['a'], lastNonce: 'n3', outstanding: ['n2'] }),
      request: req({ response_nonce: 'n2' }),
      kind: 'ack',
      latest: false,
      respond: false,
    },
    {
      name: 'ACK that also subscribes answers the new name',
      state: state({ names: ['a'], lastNonce: 'n2' }),
      request: req({ response_nonce: 'n2', resource_names_subscribe: ['c'] }),
      kind: 'ack',
      respond: true,
      mustSend: ['c'],
    },
    {
      name: 'NACK: recorded, not resent',
      state: state({ names: ['a'], lastNonce: 'n2' }),
      request: req({ response_nonce: 'n2', error_detail: { code: 3, message: 'bad' } }),
      kind: 'nack',
      latest: true,
      respond: false,
    },
    {
      name: 'NACK that subscribes a new name answers the name',
      state: state({ names: ['a'], lastNonce: 'n2' }),
      request: req({ response_nonce: 'n2', resource_names_subscribe: ['b'], error_detail: { code: 3, message: 'bad' } }),
      kind: 'nack',
      respond: true,
      mustSend: ['b'],
    },
    {
      name: 'an unknown nonce is stale, but its subscription counts',
      state: state({ names: ['a'], lastNonce: 'n5' }),
      request: req({ response_nonce: 'other-1', resource_names_subscribe: ['b'] }),
      kind: 'stale',
      respond: true,
      names: ['a', 'b'],
    },
    {
      name: 'legacy wildcard stays wildcard while no names are subscribed',
      state: state({ wildcard: true, legacy: true, lastNonce: 'n1' }),
      request: req({ response_nonce: 'n1' }),
      wildcardCapable: true,
      kind: 'ack',
      respond: false,
      wildcard: true,
      legacy: true,
    },
    {
      name: 'legacy wildcard ends when names are subscribed without *',
      state: state({ wildcard: true, legacy: true, lastNonce: 'n1' }),
      request: req({ resource_names_subscribe: ['c1'] }),
      wildcardCapable: true,
      kind: 'subscription',
      respond: true,
      wildcard: false,
      wildcardStopped: true,
      names: ['c1'],
    },
    {
      name: 'legacy wildcard plus names and * stays wildcard (explicit from now on)',
      state: state({ wildcard: true, legacy: true, lastNonce: 'n1' }),
      request: req({ resource_names_subscribe: ['*', 'c1'] }),
      wildcardCapable: true,
      kind: 'subscription',
      respond: true,
      wildcard: true,
      legacy: false,
      wildcardStopped: false,
      wildcardStarted: false,
    },
    {
      name: 'explicit * survives subscribing more names',
      state: state({ wildcard: true, legacy: false, lastNonce: 'n1' }),
      request: req({ resource_names_subscribe: ['c2'] }),
      wildcardCapable: true,
      kind: 'subscription',
      respond: true,
      wildcard: true,
    },
    {
      name: 'subscribing * later starts the wildcard: everything that differs is sent',
      state: state({ names: ['c1'], lastNonce: 'n1' }),
      request: req({ resource_names_subscribe: ['*'] }),
      wildcardCapable: true,
      kind: 'subscription',
      respond: true,
      wildcard: true,
      wildcardStarted: true,
      mustSend: [],
    },
    {
      name: 'unsubscribing * stops the wildcard and sends nothing',
      state: state({ wildcard: true, names: ['c1'], lastNonce: 'n1' }),
      request: req({ resource_names_unsubscribe: ['*'] }),
      wildcardCapable: true,
      kind: 'subscription',
      respond: false,
      wildcard: false,
      wildcardStopped: true,
      names: ['c1'],
    },
  ];

  for (const c of cases) {
    it(c.name, () => {
      const got = classifyDeltaRequest(c.state, c.request, c.wildcardCapable ?? false);
      assert.equal(got.kind, c.kind);
      assert.equal(got.respond, c.respond);
      if (c.latest !== undefined) assert.equal(got.latest, c.latest);
      if (c.wildcard !== undefined) assert.equal(got.wildcard, c.wildcard);
      if (c.legacy !== undefined) assert.equal(got.legacyWildcard, c.legacy);
      if (c.names) assert.deepEqual([...got.names].sort(), c.names);
      if (c.mustSend) assert.deepEqual(got.mustSend, c.mustSend);
      if (c.unsubscribed) assert.deepEqual(got.unsubscribed, c.unsubscribed);
      if (c.known) assert.deepEqual(Object.fromEntries(got.known), c.known);
      if (c.wildcardStarted !== undefined) assert.equal(got.wildcardStarted, c.wildcardStarted);
      if (c.wildcardStopped !== undefined) assert.equal(got.wildcardStopped, c.wildcardStopped);
    });
  }
});

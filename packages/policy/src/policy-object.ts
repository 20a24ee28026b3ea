/**
 * A policy document made into a typed object: kind and version checked, metadata read, the
 * spec validated against its kind's schema. Every problem is named by its field path.
 */
import type { z } from 'zod';
import { policyKindOf, type PolicyKind } from './kinds.ts';
import { destinationRuleSpec, type DestinationRuleSpec } from './schemas/destination-rule.ts';
import { grpcRouteSpec, httpRouteSpec, type GrpcRouteSpec, type HttpRouteSpec } from './schemas/gateway-api.ts';
import {
  authorizationPolicySpec,
  peerAuthenticationSpec,
  requestAuthenticationSpec,
  type AuthorizationPolicySpec,
  type PeerAuthenticationSpec,
  type RequestAuthenticationSpec,
} from './schemas/security.ts';
import { serviceEntrySpec, sidecarSpec, type ServiceEntrySpec, type SidecarSpec } from './schemas/service-entry.ts';
import { telemetrySpec, type TelemetrySpec } from './schemas/telemetry.ts';
import { virtualServiceSpec, type VirtualServiceSpec } from './schemas/virtual-service.ts';
import { validateWith, type ValidationResult } from './validation.ts';

export interface SpecOf {
  VirtualService: VirtualServiceSpec;
  DestinationRule: DestinationRuleSpec;
  ServiceEntry: ServiceEntrySpec;
  Sidecar: SidecarSpec;
  PeerAuthentication: PeerAuthenticationSpec;
  AuthorizationPolicy: AuthorizationPolicySpec;
  RequestAuthentication: RequestAuthenticationSpec;
  Telemetry: TelemetrySpec;
  HTTPRoute: HttpRouteSpec;
  GRPCRoute: GrpcRouteSpec;
}

const SPEC_SCHEMAS: { readonly [K in PolicyKind]: z.ZodType<SpecOf[K]> } = {
  VirtualService: virtualServiceSpec,
  DestinationRule: destinationRuleSpec,
  ServiceEntry: serviceEntrySpec,
  Sidecar: sidecarSpec,
  PeerAuthentication: peerAuthenticationSpec,
  AuthorizationPolicy: authorizationPolicySpec,
  RequestAuthentication: requestAuthenticationSpec,
  Telemetry: telemetrySpec,
  HTTPRoute: httpRouteSpec,
  GRPCRoute: grpcRouteSpec,
};

/** Which object: the key a change to it is pushed under. */
export interface PolicyRef {
  readonly kind: PolicyKind;
  readonly namespace: string;
  readonly name: string;
}

export interface PolicyObjectOf<K extends PolicyKind> extends PolicyRef {
  readonly kind: K;
  readonly apiVersion: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  readonly spec: SpecOf[K];
}

export type PolicyObject = { [K in PolicyKind]: PolicyObjectOf<K> }[PolicyKind];

export function refKey(ref: PolicyRef): string {
  return `${ref.kind}/${ref.namespace}/${ref.name}`;
}

/** The kind/namespace/name of a document, as far as it can be read, or `undefined` when it is none of ours. */
export type DocumentIdentity = { readonly ref: PolicyRef } | { readonly error: string } | undefined;

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

function metadataOf(doc: Record<string, unknown>): Record<string, unknown> {
  const m = doc['metadata'];
  return m !== null && typeof m === 'object' && !Array.isArray(m) ? (m as Record<string, unknown>) : {};
}

/** Reads which object a document is, before (and whether or not) its spec is valid. */
export function identifyDocument(value: unknown): DocumentIdentity {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const doc = value as Record<string, unknown>;
  const kind = policyKindOf(doc['apiVersion'], doc['kind']);
  if (kind === undefined) return undefined;
  if (typeof kind === 'object') return kind;
  const metadata = metadataOf(doc);
  const name = metadata['name'];
  const namespace = metadata['namespace'] ?? 'default';
  if (typeof name !== 'string' || !DNS_SUBDOMAIN.test(name) || name.length > 253) return { error: `metadata.name: ${kind} needs a lower-case DNS name, got ${JSON.stringify(name)}` };
  if (typeof namespace !== 'string' || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(namespace)) return { error: `metadata.namespace: not a namespace name: ${JSON.stringify(namespace)}` };
  return { ref: { kind, namespace, name } };
}

function stringMap(value: unknown): Record<string, string> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return {};
  return Object.fromEntries(Object.entries(value as Record<string, unknown>).filter((e): e is [string, string] => typeof e[1] === 'string'));
}

/** Validates a document whose identity `identifyDocument` read: its spec against its kind's schema. */
export function validatePolicyDocument(ref: PolicyRef, value: Record<string, unknown>): ValidationResult<PolicyObject> {
  const spec = validateWith(SPEC_SCHEMAS[ref.kind] as z.ZodType<SpecOf[PolicyKind]>, value['spec'] ?? {}, ['spec']);
  if (!spec.ok) return spec;
  const metadata = metadataOf(value);
  const object = {
    ...ref,
    apiVersion: String(value['apiVersion']),
    labels: stringMap(metadata['labels']),
    annotations: stringMap(metadata['annotations']),
    spec: spec.value,
  } as PolicyObject;
  return { ok: true, value: object };
}

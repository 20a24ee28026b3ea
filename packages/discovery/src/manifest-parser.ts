import { setImmediate as nextTurn } from 'node:timers/promises';
import { Composer, LineCounter, Parser, type Document } from 'yaml';
import { z } from 'zod';
import { KIND_API_VERSION, isKubeKind, type KubeEvent, type KubeObject } from './kube-objects.ts';

/**
 * Structural checks for the fields Meridian reads. Everything else in a document passes
 * through untouched: these are ordinary Kubernetes manifests.
 */
const port = z.number().int().min(1).max(65535);
const metadata = z.looseObject({
  name: z.string().min(1),
  namespace: z.string().min(1).optional(),
  labels: z.record(z.string(), z.string()).optional(),
});
const schemas = {
  Service: z.looseObject({
    metadata,
    spec: z
      .looseObject({
        ports: z.array(z.looseObject({ port, name: z.string().optional(), protocol: z.enum(['TCP', 'UDP', 'SCTP']).optional() })).optional(),
      })
      .optional(),
  }),
  EndpointSlice: z.looseObject({
    metadata,
    addressType: z.enum(['IPv4', 'IPv6', 'FQDN']),
    endpoints: z
      .array(
        z.looseObject({
          addresses: z.array(z.string().min(1)).min(1),
          conditions: z
            .looseObject({ ready: z.boolean().optional(), serving: z.boolean().optional(), terminating: z.boolean().optional() })
            .optional(),
          nodeName: z.string().optional(),
          zone: z.string().optional(),
        }),
      )
      .nullish(),
    ports: z.array(z.looseObject({ port: port.optional(), name: z.string().optional() })).nullish(),
  }),
  Pod: z.looseObject({ metadata }),
  Node: z.looseObject({ metadata }),
  Namespace: z.looseObject({ metadata }),
  WorkloadEntry: z.looseObject({
    metadata,
    spec: z.looseObject({
      address: z.string().min(1),
      ports: z.record(z.string(), port).optional(),
      labels: z.record(z.string(), z.string()).optional(),
      network: z.string().min(1).optional(),
      locality: z.string().regex(/^[^/]*(\/[^/]*){0,2}$/, 'region/zone/subzone').optional(),
      serviceAccount: z.string().min(1).optional(),
    }),
  }),
};
const CLUSTER_SCOPED = new Set(['Node', 'Namespace']);

/**
 * API groups of configuration (policy) documents: passed on whole, with their line, for the
 * policy layer to validate object by object.
 */
export const CONFIG_API_GROUPS: ReadonlySet<string> = new Set(['networking.istio.io', 'security.istio.io', 'telemetry.istio.io', 'gateway.networking.k8s.io']);

export interface ParsedManifest {
  readonly objects: readonly KubeEvent[];
  /** Configuration documents (`CONFIG_API_GROUPS`), with the line each starts on. */
  readonly config: ReadonlyArray<{ readonly value: unknown; readonly line: number }>;
  /** Documents of kinds Meridian does not read (Deployments and the like), by kind. */
  readonly ignored: readonly string[];
}

export class ManifestError extends Error {
  readonly document: number;
  readonly reason: string;

  constructor(document: number, reason: string) {
    super(`document ${document}: ${reason}`);
    this.document = document;
    this.reason = reason;
  }
}

/** Parses one multi-document YAML (or JSON) file; the first bad document fails the file. */
export function parseManifest(text: string): ParsedManifest {
  const out: MutableParsed = { objects: [], config: [], ignored: [] };
  const lines = new LineCounter();
  let n = 0;
  for (const doc of documents(text, lines)) readDocument(doc, ++n, lines, out);
  return out;
}

/**
 * The same as `parseManifest`, giving the event loop back every `sliceMs` between documents,
 * so a file of tens of thousands of endpoints never stalls the xDS server while it is read.
 */
export async function parseManifestInSlices(text: string, sliceMs = 10): Promise<ParsedManifest> {
  const out: MutableParsed = { objects: [], config: [], ignored: [] };
  const lines = new LineCounter();
  let n = 0;
  let sliceStart = performance.now();
  // The lexer, parser and composer are lazy generators: each step reads only the next document.
  for (const doc of documents(text, lines)) {
    readDocument(doc, ++n, lines, out);
    if (performance.now() - sliceStart >= sliceMs) {
      await nextTurn();
      sliceStart = performance.now();
    }
  }
  return out;
}

interface MutableParsed {
  objects: KubeEvent[];
  config: Array<{ value: unknown; line: number }>;
  ignored: string[];
}

function documents(text: string, lines: LineCounter): Iterable<Document.Parsed> {
  return new Composer().compose(new Parser(lines.addNewLine).parse(text));
}

function readDocument(doc: Document.Parsed, n: number, lines: LineCounter, out: MutableParsed): void {
  const syntaxError = doc.errors[0];
  if (syntaxError) {
    const { line, col } = lines.linePos(syntaxError.pos[0]);
    const message = syntaxError.message.split('\n')[0] ?? 'invalid YAML';
    throw new ManifestError(n, `${message} at line ${line}, column ${col}`);
  }
  let value: unknown;
  try {
    // Unresolved aliases and alias bombs (more than yaml's maxAliasCount expansions) throw here.
    value = doc.toJS();
  } catch (err) {
    throw new ManifestError(n, err instanceof Error ? err.message : String(err));
  }
  if (value === null || value === undefined) return;
  if (typeof value !== 'object' || Array.isArray(value)) throw new ManifestError(n, 'expected a mapping');
  const { apiVersion, kind } = value as { apiVersion?: unknown; kind?: unknown };
  if (typeof kind !== 'string') throw new ManifestError(n, 'kind: required string');
  if (typeof apiVersion !== 'string') throw new ManifestError(n, 'apiVersion: required string');
  if (kind === 'List') throw new ManifestError(n, 'kind List is not supported; write one document per object');
  if (CONFIG_API_GROUPS.has(apiVersion.split('/')[0] ?? '')) {
    // The line of its first field, not of the `---` before it.
    out.config.push({ value, line: lines.linePos(doc.contents?.range[0] ?? doc.range[0]).line });
    return;
  }
  if (!isKubeKind(kind)) {
    out.ignored.push(kind);
    return;
  }
  if (apiVersion !== KIND_API_VERSION[kind]) {
    throw new ManifestError(n, `apiVersion: ${kind} must be ${KIND_API_VERSION[kind]}, got ${apiVersion}`);
  }
  const result = schemas[kind].safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue?.path.join('.') || '(root)';
    throw new ManifestError(n, `${kind}: ${where}: ${issue?.message ?? 'invalid'}`);
  }
  const object = value as KubeObject & { metadata: { namespace?: string } };
  if (!CLUSTER_SCOPED.has(kind)) object.metadata.namespace ??= 'default';
  out.objects.push({ type: 'upsert', kind, object } as KubeEvent);
}

/** `telemetry.istio.io/v1` Telemetry, as the upstream reference documents it. */
import { z } from 'zod';
import { celExpression, celProblem, duration, workloadSelector } from './common.ts';

const providerRef = z.strictObject({ name: z.string().min(1) });
const workloadMode = z.enum(['CLIENT_AND_SERVER', 'CLIENT', 'SERVER']);
const targetRef = z.strictObject({ group: z.string().optional(), kind: z.string().min(1), name: z.string().min(1), namespace: z.string().optional() });

export const telemetrySpec = z
  .strictObject({
    selector: workloadSelector.optional(),
    targetRef: targetRef.optional(),
    targetRefs: z.array(targetRef).optional(),
    tracing: z
      .array(
        z.strictObject({
          match: z.strictObject({ mode: workloadMode.optional() }).optional(),
          providers: z.array(providerRef).optional(),
          randomSamplingPercentage: z.number().min(0).max(100).optional(),
          disableSpanReporting: z.boolean().optional(),
          customTags: z
            .record(
              z.string().min(1),
              z.strictObject({
                literal: z.strictObject({ value: z.string() }).optional(),
                environment: z.strictObject({ name: z.string().min(1), defaultValue: z.string().optional() }).optional(),
                header: z.strictObject({ name: z.string().min(1), defaultValue: z.string().optional() }).optional(),
              }),
            )
            .optional(),
        }),
      )
      .optional(),
    metrics: z
      .array(
        z.strictObject({
          providers: z.array(providerRef).optional(),
          overrides: z
            .array(
              z.strictObject({
                match: z.strictObject({ metric: z.string().optional(), customMetric: z.string().optional(), mode: workloadMode.optional() }).optional(),
                disabled: z.boolean().optional(),
                tagOverrides: z
                  .record(
                    z.string().min(1),
                    // The value is CEL where it is used (UPSERT); Istio ignores it with REMOVE.
                    z.strictObject({ operation: z.enum(['UPSERT', 'REMOVE']).optional(), value: z.string().optional() }).superRefine((o, ctx) => {
                      const problem = o.operation !== 'REMOVE' && o.value !== undefined ? celProblem(o.value) : undefined;
                      if (problem) ctx.addIssue({ code: 'custom', message: problem, path: ['value'] });
                    }),
                  )
                  .optional(),
              }),
            )
            .optional(),
          reportingInterval: duration.optional(),
        }),
      )
      .optional(),
    accessLogging: z
      .array(
        z.strictObject({
          match: z.strictObject({ mode: workloadMode.optional() }).optional(),
          providers: z.array(providerRef).optional(),
          disabled: z.boolean().optional(),
          filter: z.strictObject({ expression: celExpression }).optional(),
        }),
      )
      .optional(),
  })
  .superRefine((t, ctx) => {
    if (t.selector && (t.targetRef || t.targetRefs)) ctx.addIssue({ code: 'custom', message: 'selector and targetRef(s) cannot both be set', path: ['selector'] });
  });

export type TelemetrySpec = z.infer<typeof telemetrySpec>;

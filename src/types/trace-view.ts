/**
 * What the dashboard's trace page reads from the store server: an attempt's spans in outline (what
 * the waterfall draws), and its LLM calls as chat with the capture coverage and the adapters'
 * diagnostics. The browser cannot import these schemas (src/dashboard/records.ts restates what it
 * reads; a test holds the two together), so every field the page shows is here.
 */
import { z } from "zod";
import { TokenFiguresSchema } from "./tokens.js";
import { ChatMessageSchema } from "./transition.js";

/** One span as the waterfall draws it; every other attribute is one request away (`…/spans/:spanId`). */
export const SpanOutlineSchema = z.strictObject({
  spanId: z.string(),
  parentId: z.string().nullable(),
  name: z.string(),
  startTime: z.number(),
  endTime: z.number(),
  sequence: z.number().int(),
  status: z.enum(["unset", "ok", "error"]),
  /** `tracetrain.span.type`, when recorded. */
  type: z.string().nullable(),
  /** The instrumentation that recorded it (`tracetrain.layer`). */
  layer: z.string().nullable(),
  /** The agent it ran for: its own agent name, else the nearest ancestor's. */
  agent: z.string().nullable(),
  /** `tracetrain.reward.value`, on a reward span. */
  reward: z.number().nullable(),
});
export type SpanOutline = z.infer<typeof SpanOutlineSchema>;

export const TraceOutlineSchema = z.strictObject({
  rolloutId: z.string(),
  attemptId: z.string(),
  spans: z.array(SpanOutlineSchema),
});
export type TraceOutline = z.infer<typeof TraceOutlineSchema>;

const TokenListSchema = z.array(z.number()).nullable();

export const ChatViewCallSchema = z.strictObject({
  callId: z.string(),
  agentName: z.string().nullable(),
  model: z.string().nullable(),
  selected: z.boolean(),
  exclusion: z.string().nullable(),
  /** The reward the credit policy gives it (selected calls only). */
  reward: z.number().nullable(),
  prompt: z.array(ChatMessageSchema),
  /** Exact prompt token ids, when the engine returned them; null for a text-only call. */
  promptTokenIds: TokenListSchema,
  responses: z.array(
    z.strictObject({
      message: ChatMessageSchema.nullable(),
      finishReason: z.string().nullable(),
      tokenIds: TokenListSchema,
      logprobs: TokenListSchema,
    }),
  ),
  toolUses: z.array(z.strictObject({ id: z.string().optional(), name: z.string(), arguments: z.unknown().optional(), result: z.unknown().optional(), spanId: z.string().optional() })),
  problems: z.array(z.string()),
  /** Every instrumentation layer that recorded this call, the kept record's first (duplicates merged). */
  layers: z.array(z.string()),
  /** Span ids of the call's other records (the same call seen by another layer, a framework's wrapper). */
  mergedSpanIds: z.array(z.string()),
});
export type ChatViewCall = z.infer<typeof ChatViewCallSchema>;

/** Which capture layer saw what, for one attempt. */
export const CaptureCoverageSchema = z.strictObject({
  layers: z.array(z.strictObject({ layer: z.string(), spans: z.number().int(), calls: z.number().int() })),
  /** Records merged into another record of the same call. */
  merged: z.number().int(),
  warnings: z.array(z.string()),
});
export type CaptureCoverage = z.infer<typeof CaptureCoverageSchema>;

/** What the adapters made of the attempt under the selection and credit policy asked for. */
export const TraceDiagnosticsSchema = z.strictObject({
  callsFound: z.number().int(),
  callsSelected: z.number().int(),
  callsWithTokenIds: z.number().int(),
  creditPolicy: z.string(),
  finalReward: z.number().nullable(),
  /** One line: how many calls become training data, and why the others do not. */
  summary: z.string(),
  dropped: z.array(z.strictObject({ spanId: z.string(), reason: z.string(), detail: z.string() })),
  warnings: z.array(z.string()),
});
export type TraceDiagnostics = z.infer<typeof TraceDiagnosticsSchema>;

export const ChatViewSchema = z.strictObject({
  rolloutId: z.string(),
  attemptId: z.string(),
  /** Agent names present in the attempt, sorted. */
  agents: z.array(z.string()),
  /** The selection applied: the agents asked for (null: every agent) and the credit policy. */
  selection: z.strictObject({ agents: z.array(z.string()).nullable(), credit: z.string() }),
  calls: z.array(ChatViewCallSchema),
  coverage: CaptureCoverageSchema,
  diagnostics: TraceDiagnosticsSchema,
  /** What the attempt's calls spent (every call, whatever the agent selection; judges apart), priced with the default table. */
  tokens: TokenFiguresSchema,
});
export type ChatView = z.infer<typeof ChatViewSchema>;

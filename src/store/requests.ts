/**
 * Validation of every Store call's arguments, in one place. BaseStore runs these on every call;
 * HttpStore runs the same ones before sending, so a remote store rejects bad input with exactly
 * the errors an in-process store gives — and nothing is lost in JSON on the way (a NaN, a Date,
 * a function are rejected, not silently turned into null, a string or nothing).
 */
import {
  AddResourcesOptionsSchema,
  AttemptCompletionSchema,
  CancelOptionsSchema,
  DequeueRequestSchema,
  EnqueueRequestSchema,
  HeartbeatRequestSchema,
  IdSchema,
  ResourcesMapSchema,
  ResourcesQuerySchema,
  RunEntriesRequestSchema,
  RunEntryQuerySchema,
  RunQuerySchema,
  RunUpdateSchema,
  RolloutQuerySchema,
  SpanQuerySchema,
  StartRolloutRequestSchema,
  WaitRequestSchema,
  parseListOrThrow,
  parseOrThrow,
  parseSpanBatch,
} from "../types/index.js";


export const parseRequest = {
  enqueue: (value: unknown) => parseOrThrow(EnqueueRequestSchema, value, "enqueue request"),
  enqueueMany: (value: unknown) => parseListOrThrow(EnqueueRequestSchema, value, 100_000, "enqueueMany requests"),
  dequeue: (value: unknown) => parseOrThrow(DequeueRequestSchema, value, "dequeue request"),
  startRollout: (value: unknown) => parseOrThrow(StartRolloutRequestSchema, value, "startRollout request"),
  spans: parseSpanBatch,
  heartbeat: (value: unknown) => parseOrThrow(HeartbeatRequestSchema, value, "heartbeat request"),
  completion: (value: unknown) => parseOrThrow(AttemptCompletionSchema, value, "attempt completion"),
  cancel: (value: unknown) => parseOrThrow(CancelOptionsSchema, value, "cancel options"),
  rolloutId: (value: unknown) => parseOrThrow(IdSchema, value, "rolloutId"),
  attemptId: (value: unknown) => parseOrThrow(IdSchema, value, "attemptId"),
  resourcesId: (value: unknown) => parseOrThrow(IdSchema, value, "resourcesId"),
  rolloutQuery: (value: unknown) => parseOrThrow(RolloutQuerySchema, value, "rollout query"),
  spanQuery: (value: unknown) => parseOrThrow(SpanQuerySchema, value, "span query"),
  resources: (value: unknown) => parseOrThrow(ResourcesMapSchema, value, "resources"),
  addResourcesOptions: (value: unknown) => parseOrThrow(AddResourcesOptionsSchema, value, "addResources options"),
  resourcesQuery: (value: unknown) => parseOrThrow(ResourcesQuerySchema, value, "resources query"),
  runUpdate: (value: unknown) => parseOrThrow(RunUpdateSchema, value, "run update"),
  runEntries: (value: unknown) => parseOrThrow(RunEntriesRequestSchema, value, "run entries"),
  runId: (value: unknown) => parseOrThrow(IdSchema, value, "runId"),
  runQuery: (value: unknown) => parseOrThrow(RunQuerySchema, value, "run query"),
  runEntryQuery: (value: unknown) => parseOrThrow(RunEntryQuerySchema, value, "run entry query"),
  wait: (value: unknown) => parseOrThrow(WaitRequestSchema, value, "waitForRollouts request"),
};

/**
 * A "dry" training backend that trains nothing: it writes each batch to disk, for training offline
 * (or inspecting what an RL run would have trained on), while the upstream endpoints keep serving
 * the same, never-updated policy.
 *
 * Layout of `dir`: `step-<n>.jsonl` — one `TrainSample` of protocol `tracetrain-rl/2` (as sent:
 * with its `token_weight` and `sampling`) per line; `supervise-<n>.jsonl` for a supervised step —
 * its token samples as sent (with `loss_mask` and `token_weight`), then its chat samples, each an
 * OpenAI fine-tuning chat record (`messages`, `tools`) with the sample's `rollout_id`, `weight` and
 * `reward` beside them — and `manifest.json`, which lists only complete step files of both kinds
 * (train and supervised steps share one step counter), each with the step's `hyperparameters`. A step sent in chunks is appended chunk by
 * chunk and listed under `pending` until its last chunk arrives. Every file is written to a
 * temporary name, flushed to disk and renamed, so a crash leaves either the old file or the new
 * one, and never a half-written step listed as complete. The manifest is read back on first use,
 * so a restarted run still refuses steps it wrote before.
 */
import { randomBytes } from "node:crypto";
import { mkdir, open, readFile, rename, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { z } from "zod";
import { ConflictError, TracetrainError, ValidationError, parseOrThrow, toValidationIssues } from "../../types/index.js";
import {
  type CheckpointRequest,
  CheckpointRequestSchema,
  type CheckpointResponse,
  type EndpointsResponse,
  HyperparametersSchema,
  PROTOCOL,
  type ParsedBackendInfo,
  PolicyVersionSchema,
  type SuperviseRequest,
  SuperviseRequestSchema,
  type TrainRequest,
  TrainRequestSchema,
  type TrainResponse,
} from "./protocol.js";
import type { TrainingBackend } from "./training-backend.js";
import { checkSuperviseRequest, checkTrainRequest } from "./train-request-checks.js";
import { BackendAbortedError } from "./backend-errors.js";
import { type JsonlExportBackendOptions, type ParsedJsonlExportBackendOptions, parseJsonlExportBackendOptions } from "./backend-options.js";

const StepFields = {
  step: z.number().int().nonnegative(),
  /** `train` (`step-<n>.jsonl`) or `supervise` (`supervise-<n>.jsonl`). @default "train" (manifests written before supervised steps) */
  kind: z.enum(["train", "supervise"]).default("train"),
  /** Relative to the manifest's directory. */
  file: z.string().min(1),
  /** Samples of either kind. */
  samples: z.number().int().positive(),
  /** How many of them are chat samples (a supervised step's). */
  chat_samples: z.number().int().positive().optional(),
  /** Prompt and response tokens of all its token samples. */
  tokens: z.number().int().nonnegative(),
  /** The `policy_version` of the train request. */
  policy_version: PolicyVersionSchema,
  /** The step's `hyperparameters` (of its last chunk), when it set any. */
  hyperparameters: HyperparametersSchema.optional(),
};

/** `manifest.json`: what was exported. Snake_case like the protocol it sits beside. */
export const ExportManifestSchema = z.object({
  protocol: z.literal(PROTOCOL),
  model: z.string().min(1),
  /** The (unchanged) policy version every step was sampled from and "trained" into. */
  policy_version: PolicyVersionSchema,
  created_at: z.iso.datetime(),
  updated_at: z.iso.datetime(),
  /** Complete steps, by step number. */
  steps: z.array(
    z.object({
      ...StepFields,
      /** How many chunks it arrived in, when it was sent in chunks. */
      chunks: z.number().int().min(1).optional(),
      written_at: z.iso.datetime(),
    }),
  ),
  /** A step whose chunks are arriving: its file holds the first `received` of `count`. A chunk 0 of any step replaces it. */
  pending: z.object({ ...StepFields, count: z.number().int().min(2), received: z.number().int().min(1) }).optional(),
});
export type ExportManifest = z.infer<typeof ExportManifestSchema>;

export const MANIFEST_FILE = "manifest.json";

/** A step as it is being written: `received` of its `count` chunks are in its file (1 of 1 for a whole step). */
type PendingStep = Omit<NonNullable<ExportManifest["pending"]>, "count" | "received"> & { count: number; received: number };

export class JsonlExportBackend implements TrainingBackend {
  readonly dir: string;
  private readonly options: ParsedJsonlExportBackendOptions;
  private manifest: ExportManifest | undefined;
  /** Writes run one at a time: the manifest is read, changed and rewritten as a whole. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(dir: string, options: JsonlExportBackendOptions) {
    this.dir = dir;
    this.options = parseJsonlExportBackendOptions(options);
  }

  /**
   * Its capabilities as they are: checkpoints (the manifest), chunked steps and supervised steps of
   * both kinds yes, restore no (there are no weights to go back to), and the endpoints keep serving
   * during a "step".
   */
  async info(): Promise<ParsedBackendInfo> {
    const { model, capabilities, hyperparameters } = this.options;
    return {
      protocol: PROTOCOL,
      model,
      policy_version: this.policyVersion(),
      capabilities: { ...capabilities, checkpoint: true, restore: false, supervised: true, supervised_chat: true, chunked_train: true, serves_while_training: true },
      hyperparameters,
      name: `JSONL export to ${this.dir} (dry: weights never change)`,
    };
  }

  async endpoints(): Promise<EndpointsResponse> {
    return { policy_version: this.policyVersion(), endpoints: this.options.endpoints };
  }

  /**
   * Writes the batch as `step-<n>.jsonl` and lists it; the policy is unchanged. A step already
   * written is refused (409), and so are hyperparameters not named in the options. A chunked step
   * is appended chunk by chunk, in order, and listed once its last chunk is written.
   */
  async train(request: TrainRequest, options: { signal?: AbortSignal } = {}): Promise<TrainResponse> {
    const parsed = parseOrThrow(TrainRequestSchema, request, "train request");
    checkTrainRequest(parsed, await this.info(), "train", this.dir);
    return this.writeStep(stepPart("train", parsed, parsed.samples, 0), options.signal);
  }

  /**
   * Writes a supervised step as `supervise-<n>.jsonl` (token samples, then chat samples) and lists
   * it; the policy is unchanged. It shares the step counter with `train`: a step number already
   * written by either is refused (409). Chunks as for `train`.
   */
  async supervise(request: SuperviseRequest, options: { signal?: AbortSignal } = {}): Promise<TrainResponse> {
    const parsed = parseOrThrow(SuperviseRequestSchema, request, "supervise request");
    checkSuperviseRequest(parsed, await this.info(), "supervise", this.dir);
    const chat = (parsed.chat ?? []).map(({ messages, tools, rollout_id, weight, reward }) => ({ messages, ...(tools === undefined ? {} : { tools }), rollout_id, weight, ...(reward === undefined ? {} : { reward }) }));
    return this.writeStep(stepPart("supervise", parsed, [...(parsed.samples ?? []), ...chat], chat.length), options.signal);
  }

  /** One request's part of a step: refused if the step is already listed, listed once its last part is written. */
  private writeStep(part: StepPart, signal: AbortSignal | undefined): Promise<TrainResponse> {
    return this.serially(async () => {
      if (signal?.aborted) throw new BackendAbortedError(part.kind, `${part.kind} was aborted before the step was written`);
      const manifest = await this.loadManifest();
      const existing = manifest.steps.find((s) => s.step === part.step);
      if (existing) throw new ConflictError(`step ${part.step} was already written (${existing.file})`, { step: part.step, file: existing.file });
      const written = await this.writePart(manifest, part);
      const now = new Date().toISOString();
      const { count, received, ...fields } = written;
      const metrics = { samples: fields.samples, tokens: fields.tokens };
      if (received < count) {
        await this.saveManifest({ ...manifest, pending: written, updated_at: now });
        return { policy_version: this.policyVersion(), metrics, pending: true };
      }
      const entry = { ...fields, ...(count > 1 ? { chunks: count } : {}), written_at: now };
      const { pending: _done, ...rest } = manifest;
      await this.saveManifest({ ...rest, steps: [...manifest.steps, entry].sort((a, b) => a.step - b.step), updated_at: now });
      return { policy_version: this.policyVersion(), metrics, pending: false };
    });
  }

  /** Writes one request's lines: a new step file, or (a later chunk) the step file with them appended. */
  private async writePart(manifest: ExportManifest, part: StepPart): Promise<PendingStep> {
    const { index, count } = part.chunk ?? { index: 0, count: 1 };
    const file = `${part.kind === "train" ? "step" : "supervise"}-${part.step}.jsonl`;
    const lines = part.lines.map((line) => `${JSON.stringify(line)}\n`).join("");
    const hyperparameters = part.hyperparameters === undefined ? {} : { hyperparameters: part.hyperparameters };
    const chat = (held: number) => (held + part.chatSamples > 0 ? { chat_samples: held + part.chatSamples } : {});
    if (index === 0) {
      await writeAtomically(join(this.dir, file), lines);
      return { step: part.step, kind: part.kind, file, samples: part.lines.length, ...chat(0), tokens: part.tokens, policy_version: part.policy_version, ...hyperparameters, count, received: 1 };
    }
    const held = manifest.pending;
    if (held === undefined || held.step !== part.step || held.kind !== part.kind || held.count !== count || held.received !== index) {
      const expected = held === undefined ? "a chunk 0 first: no step is pending" : `chunk ${held.received} of ${held.count} of ${stepName(held.kind)} ${held.step}`;
      throw new ValidationError(`${part.kind} request`, [{ path: "chunk.index", message: `expected ${expected}, got chunk ${index} of ${count} of ${stepName(part.kind)} ${part.step}` }]);
    }
    const before = await readFile(join(this.dir, held.file), "utf8");
    await writeAtomically(join(this.dir, held.file), before + lines);
    return { ...held, ...hyperparameters, samples: held.samples + part.lines.length, ...chat(held.chat_samples ?? 0), tokens: held.tokens + part.tokens, received: index + 1 };
  }

  /** Writes the manifest; its path is the checkpoint's location. */
  async checkpoint(request: CheckpointRequest = {}): Promise<CheckpointResponse> {
    const { name } = parseOrThrow(CheckpointRequestSchema, request, "checkpoint request");
    return this.serially(async () => {
      const manifest = await this.loadManifest();
      await this.saveManifest({ ...manifest, updated_at: new Date().toISOString() });
      return { checkpoint_id: name ?? `export-${manifest.steps.length}-steps`, policy_version: this.policyVersion(), location: join(this.dir, MANIFEST_FILE) };
    });
  }

  async close(): Promise<void> {
    await this.queue;
  }

  private policyVersion(): z.output<typeof PolicyVersionSchema> {
    return this.options.endpoints[0]!.policy_version;
  }

  private serially<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** The manifest in memory, else on disk (a restarted run), else a new one. */
  private async loadManifest(): Promise<ExportManifest> {
    if (this.manifest) return this.manifest;
    const path = join(this.dir, MANIFEST_FILE);
    let text: string | undefined;
    try {
      text = await readFile(path, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
    if (text === undefined) {
      const now = new Date().toISOString();
      this.manifest = { protocol: PROTOCOL, model: this.options.model, policy_version: this.policyVersion(), created_at: now, updated_at: now, steps: [] };
    } else {
      this.manifest = parseManifest(text, path);
    }
    return this.manifest;
  }

  private async saveManifest(manifest: ExportManifest): Promise<void> {
    await writeAtomically(join(this.dir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
    this.manifest = manifest;
  }
}

/** What one request adds to a step: its lines, and the figures the manifest keeps. */
interface StepPart {
  kind: "train" | "supervise";
  step: number;
  policy_version: ExportManifest["policy_version"];
  hyperparameters: ExportManifest["steps"][number]["hyperparameters"];
  chunk: TrainRequest["chunk"];
  lines: unknown[];
  chatSamples: number;
  /** Prompt and response tokens of its token samples. */
  tokens: number;
}

function stepName(kind: StepPart["kind"]): string {
  return kind === "train" ? "step" : "supervised step";
}

function stepPart(kind: StepPart["kind"], request: TrainRequest | SuperviseRequest, lines: unknown[], chatSamples: number): StepPart {
  const samples = "samples" in request && request.samples !== undefined ? request.samples : [];
  const tokens = samples.reduce((sum, s) => sum + s.prompt_ids.length + s.response_ids.length, 0);
  return { kind, step: request.step, policy_version: request.policy_version, hyperparameters: request.hyperparameters, chunk: request.chunk, lines, chatSamples, tokens };
}

function parseManifest(text: string, path: string): ExportManifest {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new TracetrainError("validation", `${path} is not JSON; move it away or choose another directory`);
  }
  const result = ExportManifestSchema.safeParse(json);
  if (!result.success) throw new ValidationError(`export manifest ${path}`, toValidationIssues(result.error, 20, json));
  return result.data;
}

/** Writes `path` via a temporary file that is flushed and renamed over it: readers see all or nothing. */
async function writeAtomically(path: string, text: string): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  const temp = `${path}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    const handle = await open(temp, "w");
    try {
      await handle.writeFile(text, "utf8");
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  await syncDirectory(dir);
}

/** Makes the rename itself durable; not every platform lets a directory be opened, and that is fine. */
async function syncDirectory(dir: string): Promise<void> {
  try {
    const handle = await open(dir, "r");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Best effort: the data is already on disk, only the directory entry's durability is at stake.
  }
}

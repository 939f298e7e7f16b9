/** JsonlExportBackend (batches to JSONL, atomically, with a manifest) and the protocol's JSON Schemas. */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConflictError, ValidationError } from "../../src/types/index.js";
import { BackendAbortedError } from "../../src/algorithms/rl/backend-errors.js";
import { serveTrainingBackend } from "../../src/algorithms/rl/backend-server.js";
import { HttpTrainingBackend } from "../../src/algorithms/rl/http-backend.js";
import { ExportManifestSchema, JsonlExportBackend, MANIFEST_FILE } from "../../src/algorithms/rl/jsonl-export-backend.js";
import { type Endpoint, PROTOCOL, type TrainRequest, TrainRequestSchema, type TrainSample, TrainSampleSchema, protocolJsonSchemas } from "../../src/algorithms/rl/protocol.js";

const root = mkdtempSync(join(tmpdir(), "tracetrain-rl-export-"));
let dirs = 0;
const freshDir = () => join(root, `run-${++dirs}`);
afterAll(() => rmSync(root, { recursive: true, force: true }));

const endpoint: Endpoint = { name: "vllm", base_url: "http://127.0.0.1:8000/v1", model: "qwen", policy_version: "base" };

function sample(rollout: string, overrides: Partial<TrainSample> = {}): TrainSample {
  return {
    rollout_id: rollout,
    group_id: "task-7",
    prompt_ids: [101, 102, 103, 104],
    response_ids: [7, 8, 9],
    response_mask: [1, 0, 1],
    logprobs: [-0.1, null, -2.5],
    advantage: -0.5,
    reward: 0,
    token_weight: 0.5,
    policy_version: "base",
    ...overrides,
  };
}

const request = (step: number, samples: TrainSample[]): TrainRequest => ({ step, policy_version: "base", samples });

function manifestOf(dir: string) {
  return ExportManifestSchema.parse(JSON.parse(readFileSync(join(dir, MANIFEST_FILE), "utf8")));
}

function linesOf(path: string): unknown[] {
  return readFileSync(path, "utf8")
    .split("\n")
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as unknown);
}

describe("JsonlExportBackend", () => {
  it("writes each step as JSONL and lists it in the manifest, leaving the policy unchanged", async () => {
    const dir = freshDir();
    const backend = new JsonlExportBackend(dir, { model: "qwen", endpoints: [endpoint] });
    const first = [sample("ro-1"), sample("ro-1", { response_ids: [5], response_mask: [1], logprobs: [null], sampling: { temperature: 0.7, top_k: 20 } }), sample("ro-2", { advantage: 0.5, reward: 1, token_weight: 1 })];
    const result = await backend.train(request(0, first));
    expect(result).toEqual({ policy_version: "base", metrics: { samples: 3, tokens: 4 * 3 + 3 + 1 + 3 }, pending: false });
    await backend.train(request(1, [sample("ro-3")]));

    expect(readdirSync(dir).sort()).toEqual([MANIFEST_FILE, "step-0.jsonl", "step-1.jsonl"]); // no temp files left behind
    const lines = linesOf(join(dir, "step-0.jsonl"));
    expect(lines).toEqual(first); // the samples exactly as sent
    for (const line of lines) expect(TrainSampleSchema.safeParse(line).success).toBe(true);

    const manifest = manifestOf(dir);
    expect(manifest.protocol).toBe(PROTOCOL);
    expect(manifest.model).toBe("qwen");
    expect(manifest.policy_version).toBe("base");
    expect(manifest.steps.map(({ step, file, samples, tokens }) => ({ step, file, samples, tokens }))).toEqual([
      { step: 0, file: "step-0.jsonl", samples: 3, tokens: 19 },
      { step: 1, file: "step-1.jsonl", samples: 1, tokens: 7 },
    ]);
    expect(Date.parse(manifest.updated_at)).toBeGreaterThanOrEqual(Date.parse(manifest.created_at));
    expect(await backend.endpoints()).toEqual({ policy_version: "base", endpoints: [endpoint] });
    // Its capabilities as they are: no weights to restore, chunks appended, endpoints that never stop.
    expect((await backend.info()).capabilities).toEqual({ token_ids: false, logprobs: false, logprobs_mode: "raw", checkpoint: true, restore: false, supervised: true, supervised_chat: true, chunked_train: true, serves_while_training: true });
    expect((await backend.info()).hyperparameters).toEqual([]);
    await backend.close();
  });

  it("refuses a step already written, also after a restart", async () => {
    const dir = freshDir();
    const backend = new JsonlExportBackend(dir, { model: "qwen", endpoints: [endpoint] });
    await backend.train(request(3, [sample("ro-1")]));
    const before = readFileSync(join(dir, "step-3.jsonl"), "utf8");
    const error = await backend.train(request(3, [sample("ro-9")])).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConflictError);
    expect((error as ConflictError).message).toBe("step 3 was already written (step-3.jsonl)");
    expect(readFileSync(join(dir, "step-3.jsonl"), "utf8")).toBe(before);

    // Two writes of one step at once: exactly one wins.
    const both = await Promise.allSettled([backend.train(request(4, [sample("a")])), backend.train(request(4, [sample("b")]))]);
    expect(both.map((o) => o.status).sort()).toEqual(["fulfilled", "rejected"]);

    const restarted = new JsonlExportBackend(dir, { model: "qwen", endpoints: [endpoint] });
    await expect(restarted.train(request(3, [sample("ro-9")]))).rejects.toBeInstanceOf(ConflictError);
    await restarted.train(request(5, [sample("ro-5")]));
    expect(manifestOf(dir).steps.map((s) => s.step)).toEqual([3, 4, 5]);
  });

  it("lists only complete files: a step file left by a crash before its manifest entry is rewritten", async () => {
    const dir = freshDir();
    const backend = new JsonlExportBackend(dir, { model: "qwen", endpoints: [endpoint] });
    await backend.train(request(0, [sample("ro-1")]));
    // What a crash can leave: a temp file never renamed, and a renamed step file the manifest never listed.
    writeFileSync(join(dir, "step-1.jsonl.abc.tmp"), '{"rollout_id":"half');
    writeFileSync(join(dir, "step-1.jsonl"), '{"rollout_id":"stale"}\n');
    const restarted = new JsonlExportBackend(dir, { model: "qwen", endpoints: [endpoint] });
    await restarted.train(request(1, [sample("ro-2")]));
    expect(linesOf(join(dir, "step-1.jsonl"))).toEqual([sample("ro-2")]);
    expect(manifestOf(dir).steps.map((s) => s.file)).toEqual(["step-0.jsonl", "step-1.jsonl"]);
  });

  it("checkpoint writes the manifest and returns its path", async () => {
    const dir = freshDir();
    const backend = new JsonlExportBackend(dir, { model: "qwen", endpoints: [endpoint], capabilities: { token_ids: true } });
    expect(await backend.checkpoint()).toEqual({ checkpoint_id: "export-0-steps", policy_version: "base", location: join(dir, MANIFEST_FILE) });
    expect(manifestOf(dir).steps).toEqual([]);
    await backend.train(request(0, [sample("ro-1")]));
    expect((await backend.checkpoint({ name: "final" })).checkpoint_id).toBe("final");
    expect((await backend.info()).capabilities.token_ids).toBe(true);
  });

  it("rejects invalid requests and options by field, and writes nothing when aborted", async () => {
    const dir = freshDir();
    const backend = new JsonlExportBackend(dir, { model: "qwen", endpoints: [endpoint] });
    const invalid = await backend.train(request(0, [sample("ro-1", { response_mask: [1] })])).catch((e: unknown) => e);
    expect(invalid).toBeInstanceOf(ValidationError);
    expect((invalid as ValidationError).issues[0]?.path).toBe("samples[0].response_mask");
    await expect(backend.train(request(0, [sample("ro-1")]), { signal: AbortSignal.abort() })).rejects.toBeInstanceOf(BackendAbortedError);
    expect(() => new JsonlExportBackend(dir, { model: "qwen", endpoints: [] })).toThrow(ValidationError);
    expect(() => new JsonlExportBackend(dir, { model: "", endpoints: [endpoint] })).toThrow(/^invalid JsonlExportBackend options: model/);
    expect(() => new JsonlExportBackend(dir, { model: "qwen", endpoints: [endpoint], capabilities: { tokenIds: true } } as never)).toThrow(/capabilities: Unrecognized key: "tokenIds"/);
    expect(() => new JsonlExportBackend(dir, { model: "qwen", endpoints: [endpoint], checkpoint: true } as never)).toThrow(/Unrecognized key: "checkpoint"/);
    expect(() => readdirSync(dir)).toThrow(); // nothing was written, not even the directory
  });

  it("refuses a directory whose manifest is not one", async () => {
    const dir = freshDir();
    await new JsonlExportBackend(dir, { model: "qwen", endpoints: [endpoint] }).checkpoint();
    writeFileSync(join(dir, MANIFEST_FILE), JSON.stringify({ protocol: PROTOCOL, steps: "many" }));
    const error = await new JsonlExportBackend(dir, { model: "qwen", endpoints: [endpoint] }).train(request(0, [sample("x")])).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).message).toContain("export manifest");
  });

  it("records each step's hyperparameters, refusing names outside its options", async () => {
    const dir = freshDir();
    const backend = new JsonlExportBackend(dir, { model: "qwen", endpoints: [endpoint], hyperparameters: ["learning_rate"] });
    expect((await backend.info()).hyperparameters).toEqual(["learning_rate"]);
    await backend.train({ ...request(0, [sample("ro-1")]), hyperparameters: { learning_rate: 3e-6 } });
    await backend.train(request(1, [sample("ro-1")]));
    expect(manifestOf(dir).steps.map((s) => s.hyperparameters)).toEqual([{ learning_rate: 3e-6 }, undefined]);
    const refused = await backend.train({ ...request(2, [sample("ro-1")]), hyperparameters: { momentum: 0.9 } }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ValidationError);
    expect((refused as ValidationError).issues).toEqual([{ path: "hyperparameters.momentum", message: "not a hyperparameter of this backend: this backend accepts learning_rate" }]);
    expect(readdirSync(dir)).not.toContain("step-2.jsonl");
  });

  it("appends a chunked step chunk by chunk and lists it once its last chunk is written", async () => {
    const dir = freshDir();
    const backend = new JsonlExportBackend(dir, { model: "qwen", endpoints: [endpoint] });
    const chunk = (index: number, samples: TrainSample[], step = 7): TrainRequest => ({ ...request(step, samples), chunk: { index, count: 3 } });
    const first = await backend.train(chunk(0, [sample("a"), sample("b")]));
    expect(first).toEqual({ policy_version: "base", metrics: { samples: 2, tokens: 14 }, pending: true });
    expect(manifestOf(dir).steps).toEqual([]);
    expect(manifestOf(dir).pending).toMatchObject({ step: 7, file: "step-7.jsonl", count: 3, received: 1, samples: 2 });

    // Out of order: named, and nothing changes.
    const skipped = await backend.train(chunk(2, [sample("x")])).catch((e: unknown) => e);
    expect(skipped).toBeInstanceOf(ValidationError);
    expect((skipped as ValidationError).issues).toEqual([{ path: "chunk.index", message: "expected chunk 1 of 3 of step 7, got chunk 2 of 3 of step 7" }]);

    // A restarted exporter picks the pending step up from its manifest.
    const restarted = new JsonlExportBackend(dir, { model: "qwen", endpoints: [endpoint] });
    expect((await restarted.train(chunk(1, [sample("c")]))).pending).toBe(true);
    const last = await restarted.train(chunk(2, [sample("d")]));
    expect(last).toEqual({ policy_version: "base", metrics: { samples: 4, tokens: 28 }, pending: false });
    expect(linesOf(join(dir, "step-7.jsonl"))).toEqual([sample("a"), sample("b"), sample("c"), sample("d")]);
    const manifest = manifestOf(dir);
    expect(manifest.pending).toBeUndefined();
    expect(manifest.steps.map(({ step, samples, tokens, chunks }) => ({ step, samples, tokens, chunks }))).toEqual([{ step: 7, samples: 4, tokens: 28, chunks: 3 }]);
    await expect(restarted.train(chunk(0, [sample("e")]))).rejects.toBeInstanceOf(ConflictError);

    // A chunk 0 of another step replaces an abandoned pending one.
    await restarted.train(chunk(0, [sample("f")], 8));
    await restarted.train(chunk(0, [sample("g")], 9));
    expect(manifestOf(dir).pending).toMatchObject({ step: 9, received: 1 });
    const orphan = await restarted.train(chunk(1, [sample("h")], 8)).catch((e: unknown) => e);
    expect((orphan as ValidationError).issues[0]?.message).toBe("expected chunk 1 of 3 of step 9, got chunk 1 of 3 of step 8");
  });

  it("writes a supervised step as supervise-<n>.jsonl beside the train steps, on one step counter", async () => {
    const dir = freshDir();
    const backend = new JsonlExportBackend(dir, { model: "qwen", endpoints: [endpoint] });
    await backend.train(request(0, [sample("ro-1")]));
    const tokens = { rollout_id: "best", prompt_ids: [1, 2, 3], response_ids: [4, 5], loss_mask: [1, 0] as Array<0 | 1>, token_weight: 1, reward: 1 };
    const chat = {
      rollout_id: "teacher",
      messages: [
        { role: "user" as const, content: "Open box 2." },
        { role: "assistant" as const, content: null, tool_calls: [{ id: "call_1", type: "function", function: { name: "open_box", arguments: '{"box":2}' } }] },
        { role: "tool" as const, tool_call_id: "call_1", content: "A red gem." },
        { role: "assistant" as const, content: "red" },
      ],
      tools: [{ type: "function", function: { name: "open_box", parameters: { type: "object", properties: { box: { type: "integer" } } } } }],
      weight: 0.5,
      reward: 1,
    };
    await expect(backend.supervise({ step: 0, policy_version: "base", samples: [tokens] })).rejects.toBeInstanceOf(ConflictError);
    expect(await backend.supervise({ step: 1, policy_version: "base", samples: [tokens], chunk: { index: 0, count: 2 } })).toEqual({ policy_version: "base", metrics: { samples: 1, tokens: 5 }, pending: true });
    // A train part cannot continue a pending supervised step.
    const crossed = await backend.train({ ...request(1, [sample("x")]), chunk: { index: 1, count: 2 } }).catch((e: unknown) => e);
    expect((crossed as ValidationError).issues).toEqual([{ path: "chunk.index", message: "expected chunk 1 of 2 of supervised step 1, got chunk 1 of 2 of step 1" }]);
    expect(await backend.supervise({ step: 1, policy_version: "base", chat: [chat], chunk: { index: 1, count: 2 } })).toEqual({ policy_version: "base", metrics: { samples: 2, tokens: 5 }, pending: false });
    await expect(backend.train(request(1, [sample("ro-2")]))).rejects.toBeInstanceOf(ConflictError);

    expect(readdirSync(dir).sort()).toEqual([MANIFEST_FILE, "step-0.jsonl", "supervise-1.jsonl"]);
    const { rollout_id, weight, reward, messages, tools } = chat;
    // Token samples as sent; chat samples as OpenAI fine-tuning records, the sample's own fields beside them.
    expect(linesOf(join(dir, "supervise-1.jsonl"))).toEqual([tokens, { messages, tools, rollout_id, weight, reward }]);
    const manifest = manifestOf(dir);
    expect(manifest.steps.map(({ step, kind, file, samples, chat_samples, tokens, chunks }) => ({ step, kind, file, samples, chat_samples, tokens, chunks }))).toEqual([
      { step: 0, kind: "train", file: "step-0.jsonl", samples: 1, chat_samples: undefined, tokens: 7, chunks: undefined },
      { step: 1, kind: "supervise", file: "supervise-1.jsonl", samples: 2, chat_samples: 1, tokens: 5, chunks: 2 },
    ]);
    // A manifest written before supervised steps existed (no kind) still reads: its steps are train steps.
    const old = JSON.parse(readFileSync(join(dir, MANIFEST_FILE), "utf8")) as { steps: Array<Record<string, unknown>> };
    for (const step of old.steps) delete step.kind;
    expect(ExportManifestSchema.parse(old).steps.map((s) => s.kind)).toEqual(["train", "train"]);
  });

  it("can be served over the protocol", async () => {
    const dir = freshDir();
    const backend = new JsonlExportBackend(dir, { model: "qwen", endpoints: [endpoint] });
    const server = await serveTrainingBackend(backend);
    try {
      const client = new HttpTrainingBackend(server.url);
      expect((await client.info()).name).toContain("dry");
      expect((await client.train(request(0, [sample("ro-1")]))).metrics).toEqual({ samples: 1, tokens: 7 });
      // Chunks and hyperparameter checks work through the server as in process.
      expect((await client.train({ ...request(1, [sample("ro-2")]), chunk: { index: 0, count: 2 } })).pending).toBe(true);
      expect((await client.train({ ...request(1, [sample("ro-3")]), chunk: { index: 1, count: 2 } })).pending).toBe(false);
      expect(linesOf(join(dir, "step-1.jsonl"))).toEqual([sample("ro-2"), sample("ro-3")]);
      await expect(client.restore({ checkpoint_id: "x" })).rejects.toThrow(/cannot restore checkpoints/);
      await expect(client.train(request(0, [sample("ro-1")]))).rejects.toBeInstanceOf(ConflictError);
      expect(linesOf(join(dir, "step-0.jsonl"))).toEqual([sample("ro-1")]);
    } finally {
      await server.close();
    }
  });
});

/**
 * Just enough of JSON Schema 2020-12 to check what `protocolJsonSchemas()` uses (type, const,
 * properties, required, items, anyOf, bounds), so the test needs no validator package.
 */
function violations(schema: Record<string, unknown>, value: unknown, path = ""): string[] {
  const out: string[] = [];
  const here = path || "(root)";
  const types = schema.type === undefined ? [] : ([] as unknown[]).concat(schema.type);
  if (types.length > 0 && !types.some((t) => matchesType(t, value))) return [`${here}: expected ${types.join("|")}`];
  if ("const" in schema && schema.const !== value) out.push(`${here}: expected ${JSON.stringify(schema.const)}`);
  if (Array.isArray(schema.anyOf) && !schema.anyOf.some((s) => violations(s as Record<string, unknown>, value, path).length === 0)) out.push(`${here}: matches no alternative`);
  if (typeof value === "number") {
    if (typeof schema.minimum === "number" && value < schema.minimum) out.push(`${here}: below ${schema.minimum}`);
    if (typeof schema.exclusiveMinimum === "number" && value <= schema.exclusiveMinimum) out.push(`${here}: not above ${schema.exclusiveMinimum}`);
  }
  if (typeof value === "string" && typeof schema.minLength === "number" && value.length < schema.minLength) out.push(`${here}: too short`);
  if (Array.isArray(value)) {
    if (typeof schema.minItems === "number" && value.length < schema.minItems) out.push(`${here}: too few items`);
    if (typeof schema.items === "object" && schema.items !== null) value.forEach((item, i) => out.push(...violations(schema.items as Record<string, unknown>, item, `${path}[${i}]`)));
  }
  if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    const record = value as Record<string, unknown>;
    for (const key of (schema.required as string[] | undefined) ?? []) if (!(key in record)) out.push(`${path ? `${path}.` : ""}${key}: required`);
    for (const [key, sub] of Object.entries((schema.properties as Record<string, Record<string, unknown>> | undefined) ?? {})) {
      if (key in record) out.push(...violations(sub, record[key], path ? `${path}.${key}` : key));
    }
  }
  return out;
}

function matchesType(type: unknown, value: unknown): boolean {
  switch (type) {
    case "object":
      return typeof value === "object" && value !== null && !Array.isArray(value);
    case "array":
      return Array.isArray(value);
    case "integer":
      return Number.isInteger(value);
    case "null":
      return value === null;
    default:
      return typeof value === type;
  }
}

describe("protocolJsonSchemas()", () => {
  const schemas = protocolJsonSchemas() as Record<string, Record<string, unknown>>;
  const example = request(12, [sample("ro-1"), sample("ro-2", { policy_version: 3 })]);

  it("describes every payload, with the required fields of the zod schemas", () => {
    expect(Object.keys(schemas).sort()).toEqual(["BackendInfo", "CheckpointRequest", "CheckpointResponse", "EndpointsResponse", "ProtocolError", "RestoreRequest", "RestoreResponse", "SuperviseRequest", "TrainRequest", "TrainResponse"]);
    const train = schemas.TrainRequest!;
    expect(train.$schema).toBe("https://json-schema.org/draft/2020-12/schema");
    expect(train.required).toEqual(["step", "policy_version", "samples"]);
    const trainProperties = train.properties as Record<string, Record<string, unknown>>;
    expect(Object.keys(trainProperties)).toEqual(["step", "policy_version", "samples", "hyperparameters", "chunk"]);
    expect(trainProperties.chunk!.required).toEqual(["index", "count"]);
    const sampleSchema = trainProperties.samples!.items as Record<string, unknown>;
    expect(sampleSchema.required).toEqual(["rollout_id", "group_id", "prompt_ids", "response_ids", "response_mask", "logprobs", "advantage", "reward", "token_weight"]);
    expect(Object.keys((sampleSchema.properties as Record<string, Record<string, unknown>>).sampling!.properties as object)).toEqual(["temperature", "top_p", "top_k"]);
    expect(schemas.RestoreRequest!.required).toEqual(["checkpoint_id"]);
    expect(schemas.RestoreResponse!.required).toEqual(["policy_version", "last_step"]);
    // Capabilities added in version 2 have defaults, so a server may leave them out.
    const capabilities = (schemas.BackendInfo!.properties as Record<string, Record<string, unknown>>).capabilities!;
    expect(capabilities.required).toEqual(["token_ids", "logprobs", "checkpoint"]);
    expect((schemas.BackendInfo!.properties as Record<string, Record<string, unknown>>).protocol).toEqual({ type: "string", const: PROTOCOL });
  });

  it("accepts an example request and rejects broken ones, as the zod schema does", () => {
    expect(TrainRequestSchema.safeParse(example).success).toBe(true);
    expect(violations(schemas.TrainRequest!, example)).toEqual([]);
    const { step: _, ...noStep } = example;
    expect(violations(schemas.TrainRequest!, noStep)).toEqual(["step: required"]);
    expect(violations(schemas.TrainRequest!, request(1, [sample("x", { prompt_ids: [1, -2] })]))).toEqual(["samples[0].prompt_ids[1]: below 0"]);
    expect(violations(schemas.TrainRequest!, request(1, [sample("x", { response_mask: [1, 2, 0] as never })]))).toEqual(["samples[0].response_mask[1]: matches no alternative"]);
    expect(violations(schemas.TrainRequest!, request(1, [sample("x", { token_weight: 0 })]))).toEqual(["samples[0].token_weight: not above 0"]);
    expect(violations(schemas.TrainRequest!, { ...example, samples: [] })).toEqual(["samples: too few items"]);
    expect(violations(schemas.TrainResponse!, { policy_version: 13, metrics: { loss: 0.1 } })).toEqual([]);
    expect(violations(schemas.ProtocolError!, { error: { code: "conflict", message: "step 12 was already applied" } })).toEqual([]);
  });

  it("are printed by scripts/rl-protocol-schemas.ts", () => {
    const tsx = join(process.cwd(), "node_modules", ".bin", "tsx");
    const printed = JSON.parse(execFileSync(tsx, ["scripts/rl-protocol-schemas.ts"], { encoding: "utf8" })) as unknown;
    expect(printed).toEqual(schemas);
  });
});

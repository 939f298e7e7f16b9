/**
 * The TrainingBackend conformance suite: the behaviours of protocol `tracetrain-rl/2` every
 * backend must show — the reference backend, the JSONL exporter, `HttpTrainingBackend` talking to
 * any of them through `serveTrainingBackend`, and yours. Each part is gated by what the backend's
 * `info().capabilities` claim: a capability it claims is checked, one it lacks must be refused
 * with `BackendUnsupportedError` (a skipped test names the capability it waits for).
 *
 * Like the store suite, it takes vitest's API as an argument:
 *
 * @example
 * import * as vitest from "vitest";
 * import { describeBackendConformance } from "tracetrain/testing";
 * describeBackendConformance("my backend", { updatesPolicy: true, open: async () => {
 *   const backend = await MyBackend.start();
 *   return { backend, sequences: () => sampleFrom(backend), close: () => backend.close() };
 * } }, vitest);
 */
import type * as Vitest from "vitest";
import { ConflictError, ValidationError } from "../types/index.js";
import {
  BackendInfoSchema,
  BackendUnsupportedError,
  CheckpointResponseSchema,
  EndpointsResponseSchema,
  type ParsedBackendInfo,
  RestoreResponseSchema,
  type SuperviseChatSample,
  type SuperviseRequest,
  type SuperviseSample,
  type TrainRequest,
  type TrainResponse,
  TrainResponseSchema,
  type TrainSample,
  type TrainingBackend,
  type UnsupportedFeature,
} from "../algorithms/index.js";
import { rejectionAssertion } from "./rejection.js";

/** The parts of vitest the suite uses: pass `import * as vitest from "vitest"`. */
export type BackendConformanceTestApi = Pick<typeof Vitest, "describe" | "it" | "expect" | "beforeEach" | "afterEach">;

/** A token sequence the backend's policy can be trained on: one call its endpoints answered (or any ids, for an exporter). */
export interface TokenSequence {
  prompt_ids: number[];
  response_ids: number[];
  /** The sampling engine's logprob of each response token. */
  logprobs: (number | null)[];
}

/** A backend opened for one test, with what the suite needs to feed it. */
export interface BackendUnderTest {
  backend: TrainingBackend;
  /** At least two token sequences it can train on (for `train` and token `supervise` steps). */
  sequences(): Promise<TokenSequence[]>;
  /** At least two conversations it can learn, in OpenAI chat form (for `supervised_chat`); required when it claims that capability. */
  conversations?(): Promise<Pick<SuperviseChatSample, "messages" | "tools">[]>;
  /** The protocol server's root URL, when the backend is reached over HTTP: bad requests are then also sent raw, bypassing the client's checks, and must get a 400 naming the field. */
  serverUrl?: string;
  /** Releases everything `open` started (the suite does not call `backend.close()` itself). */
  close(): Promise<void>;
}

export interface BackendFactory {
  /** Opens a fresh backend: no step applied yet. */
  open(): Promise<BackendUnderTest>;
  /** True for a trainer (every applied step makes a new policy version); false for an exporter, whose policy never changes. */
  updatesPolicy: boolean;
}

/** What `it`'s callback receives, as far as the suite uses it (skipping at run time, once `info()` is known). */
interface TestContext {
  skip(note?: string): void;
}

export function describeBackendConformance(name: string, factory: BackendFactory, test: BackendConformanceTestApi): void {
  const { afterEach, beforeEach, describe, expect, it } = test;

  /** Asserts that `promise` rejects with an instance of `type`, and returns the error for further checks. */
  const rejection = rejectionAssertion(expect);

  async function refusedWithPath(promise: Promise<unknown>, path: string): Promise<void> {
    const error = await rejection(promise, ValidationError);
    expect(error.issues.map((i) => i.path), error.message).toContain(path);
  }

  /** Refused naming a field under `prefix` (which of a part's fields is named first is the backend's choice). */
  async function refusedUnder(promise: Promise<unknown>, prefix: string): Promise<void> {
    const error = await rejection(promise, ValidationError);
    expect(error.issues.some((i) => i.path.startsWith(prefix)), error.message).toBe(true);
  }

  async function unsupported(promise: Promise<unknown>, feature: UnsupportedFeature): Promise<void> {
    const error = await rejection(promise, BackendUnsupportedError);
    expect(error.feature).toBe(feature);
  }

  describe(`TrainingBackend conformance: ${name}`, () => {
    let opened: BackendUnderTest;
    let backend: TrainingBackend;
    let info: ParsedBackendInfo;

    beforeEach(async () => {
      opened = await factory.open();
      backend = opened.backend;
      info = BackendInfoSchema.parse(await backend.info());
    });
    afterEach(async () => {
      await opened.close();
    });

    /** The train samples of one step: two rollouts of one group, opposite advantages, each rollout weighing half. */
    async function trainSamples(): Promise<TrainSample[]> {
      const [a, b] = await twoSequences();
      const version = info.policy_version;
      return [a, b].map((s, i) => ({
        rollout_id: `rollout-${i}`,
        group_id: "group-0",
        prompt_ids: s.prompt_ids,
        response_ids: s.response_ids,
        response_mask: s.response_ids.map(() => 1 as const),
        logprobs: s.logprobs,
        advantage: i === 0 ? 1 : -1,
        reward: i === 0 ? 1 : 0,
        token_weight: 1 / (s.response_ids.length * 2),
        policy_version: version,
      }));
    }

    async function superviseSamples(): Promise<SuperviseSample[]> {
      const [a, b] = await twoSequences();
      return [a, b].map((s, i) => ({
        rollout_id: `best-${i}`,
        prompt_ids: s.prompt_ids,
        response_ids: s.response_ids,
        loss_mask: s.response_ids.map(() => 1 as const),
        token_weight: 1 / (s.response_ids.length * 2),
        reward: 1,
      }));
    }

    async function chatSamples(): Promise<SuperviseChatSample[]> {
      expect(opened.conversations, "the factory must give conversations for a backend with capabilities.supervised_chat").toBeTypeOf("function");
      const conversations = await opened.conversations!();
      expect(conversations.length).toBeGreaterThanOrEqual(2);
      return conversations.slice(0, 2).map((c, i) => ({ rollout_id: `teacher-${i}`, ...c, weight: 0.5, reward: 1 }));
    }

    async function twoSequences(): Promise<[TokenSequence, TokenSequence]> {
      const sequences = await opened.sequences();
      expect(sequences.length, "the factory must give at least two token sequences").toBeGreaterThanOrEqual(2);
      return [sequences[0]!, sequences[1]!];
    }

    const trainRequest = async (step: number, extra: Partial<TrainRequest> = {}): Promise<TrainRequest> => ({ step, policy_version: info.policy_version, samples: await trainSamples(), ...extra });

    /** An applied step's answer, and the version the backend reports after it. */
    async function expectApplied(response: TrainResponse, before: ParsedBackendInfo["policy_version"]): Promise<void> {
      const parsed = TrainResponseSchema.parse(response);
      expect(parsed.pending).toBe(false);
      const now = BackendInfoSchema.parse(await backend.info()).policy_version;
      expect(parsed.policy_version).toBe(now);
      if (factory.updatesPolicy) expect(now).not.toBe(before);
      else expect(now).toBe(before);
      expect((await backend.endpoints()).policy_version).toBe(now);
    }

    function requires(context: TestContext, capability: keyof ParsedBackendInfo["capabilities"]): void {
      if (info.capabilities[capability] !== true) context.skip(`the backend does not claim capabilities.${capability}`);
    }

    describe("info and endpoints", () => {
      it("describes itself in the protocol's shape, and its endpoints serve the version it reports", async () => {
        expect(info.protocol).toBe("tracetrain-rl/2");
        const endpoints = EndpointsResponseSchema.parse(await backend.endpoints());
        expect(endpoints.policy_version).toBe(info.policy_version);
        for (const endpoint of endpoints.endpoints) expect(endpoint.model.length).toBeGreaterThan(0);
      });
    });

    describe("train", () => {
      it("applies a step once: the answer names the version served, and the same step again is a conflict", async () => {
        const request = await trainRequest(0);
        await expectApplied(await backend.train(request), info.policy_version);
        const after = BackendInfoSchema.parse(await backend.info()).policy_version;
        await rejection(backend.train(request), ConflictError);
        expect(BackendInfoSchema.parse(await backend.info()).policy_version).toBe(after);
        await expectApplied(await backend.train({ ...(await trainRequest(1)), policy_version: after }), after);
      });

      it("refuses bad requests with a ValidationError naming the field", async () => {
        const good = await trainRequest(0);
        await refusedWithPath(backend.train({ ...good, step: -1 }), "step");
        await refusedWithPath(backend.train({ ...good, samples: [] }), "samples");
        await refusedWithPath(backend.train({ ...good, samples: [{ ...good.samples[0]!, response_mask: [...good.samples[0]!.response_mask, 1] }] }), "samples[0].response_mask");
        await refusedWithPath(backend.train({ ...good, hyperparameters: { "no-such-hyperparameter": 1 } }), "hyperparameters.no-such-hyperparameter");
        // Nothing was applied: the step is still free.
        await expectApplied(await backend.train(good), info.policy_version);
      });

      it("takes a step in chunks, updating once when the last arrives (capabilities.chunked_train)", async (context) => {
        requires(context, "chunked_train");
        const [a, b] = await trainSamples();
        const base = { step: 3, policy_version: info.policy_version };
        const first = TrainResponseSchema.parse(await backend.train({ ...base, samples: [a!], chunk: { index: 0, count: 2 } }));
        expect(first.pending).toBe(true);
        expect(BackendInfoSchema.parse(await backend.info()).policy_version).toBe(info.policy_version);
        await refusedUnder(backend.train({ ...base, samples: [b!], chunk: { index: 2, count: 3 } }), "chunk.");
        await expectApplied(await backend.train({ ...base, samples: [b!], chunk: { index: 1, count: 2 } }), info.policy_version);
        await rejection(backend.train({ ...base, samples: [a!], chunk: { index: 0, count: 2 } }), ConflictError);
      });

      it("refuses a chunk when it cannot take chunked steps", async (context) => {
        if (info.capabilities.chunked_train) context.skip("the backend claims capabilities.chunked_train");
        await unsupported(backend.train({ ...(await trainRequest(0)), chunk: { index: 0, count: 2 } }), "chunked_train");
      });
    });

    describe("checkpoint and restore", () => {
      it("checkpoints the current policy (capabilities.checkpoint)", async (context) => {
        requires(context, "checkpoint");
        const saved = CheckpointResponseSchema.parse(await backend.checkpoint({ name: "conformance" }));
        expect(saved.checkpoint_id.length).toBeGreaterThan(0);
        expect(saved.policy_version).toBe(info.policy_version);
      });

      it("restores a checkpoint's policy without lowering the step counter (capabilities.restore)", async (context) => {
        requires(context, "restore");
        expect(backend.restore, "a backend claiming capabilities.restore has a restore method").toBeTypeOf("function");
        const saved = CheckpointResponseSchema.parse(await backend.checkpoint({ name: "before-step-0" }));
        await backend.train(await trainRequest(0));
        const restored = RestoreResponseSchema.parse(await backend.restore!({ checkpoint_id: saved.checkpoint_id }));
        expect(restored.policy_version).toBe(saved.policy_version);
        expect(restored.last_step).toBe(0);
        expect(BackendInfoSchema.parse(await backend.info()).policy_version).toBe(saved.policy_version);
        await rejection(backend.train(await trainRequest(0)), ConflictError);
      });

      it("refuses a restore when it cannot restore", async (context) => {
        if (info.capabilities.restore) context.skip("the backend claims capabilities.restore");
        if (backend.restore === undefined) return; // nothing to call: the interface itself says so
        await unsupported(backend.restore({ checkpoint_id: "anything" }), "restore");
      });
    });

    describe("supervise", () => {
      const superviseRequest = async (step: number, extra: Partial<SuperviseRequest> = {}): Promise<SuperviseRequest> => ({ step, policy_version: info.policy_version, samples: await superviseSamples(), ...extra });

      it("applies a supervised step on token samples once, sharing the step counter with train (capabilities.supervised)", async (context) => {
        requires(context, "supervised");
        expect(backend.supervise, "a backend claiming capabilities.supervised has a supervise method").toBeTypeOf("function");
        const request = await superviseRequest(0);
        await expectApplied(await backend.supervise!(request), info.policy_version);
        await rejection(backend.supervise!(request), ConflictError);
        await rejection(backend.train(await trainRequest(0)), ConflictError);
        const now = BackendInfoSchema.parse(await backend.info()).policy_version;
        await backend.train({ ...(await trainRequest(1)), policy_version: now });
        await rejection(backend.supervise!({ ...(await superviseRequest(1)), policy_version: BackendInfoSchema.parse(await backend.info()).policy_version }), ConflictError);
      });

      it("refuses bad supervised requests with a ValidationError naming the field (capabilities.supervised)", async (context) => {
        requires(context, "supervised");
        const good = await superviseRequest(0);
        const { samples: _none, ...empty } = good;
        await refusedWithPath(backend.supervise!(empty), "samples");
        await refusedWithPath(backend.supervise!({ ...good, samples: [{ ...good.samples![0]!, loss_mask: [...good.samples![0]!.loss_mask, 1] }] }), "samples[0].loss_mask");
        await refusedWithPath(backend.supervise!({ ...good, samples: [{ ...good.samples![0]!, token_weight: 0 }] }), "samples[0].token_weight");
        await refusedWithPath(backend.supervise!({ ...good, hyperparameters: { "no-such-hyperparameter": 1 } }), "hyperparameters.no-such-hyperparameter");
        await expectApplied(await backend.supervise!(good), info.policy_version);
      });

      it("takes a supervised step in chunks (capabilities.supervised and chunked_train)", async (context) => {
        requires(context, "supervised");
        requires(context, "chunked_train");
        const [a, b] = await superviseSamples();
        const base = { step: 5, policy_version: info.policy_version };
        expect(TrainResponseSchema.parse(await backend.supervise!({ ...base, samples: [a!], chunk: { index: 0, count: 2 } })).pending).toBe(true);
        expect(BackendInfoSchema.parse(await backend.info()).policy_version).toBe(info.policy_version);
        await refusedUnder(backend.supervise!({ ...base, samples: [b!], chunk: { index: 3, count: 4 } }), "chunk.");
        await expectApplied(await backend.supervise!({ ...base, samples: [b!], chunk: { index: 1, count: 2 } }), info.policy_version);
        await rejection(backend.train(await trainRequest(5)), ConflictError);
      });

      it("refuses token samples when it cannot take them", async (context) => {
        if (info.capabilities.supervised) context.skip("the backend claims capabilities.supervised");
        if (backend.supervise === undefined) return; // nothing to call: the interface itself says so
        await unsupported(backend.supervise(await superviseRequest(0)), "supervised");
      });

      it("applies a supervised step on chat samples once (capabilities.supervised_chat)", async (context) => {
        requires(context, "supervised_chat");
        expect(backend.supervise, "a backend claiming capabilities.supervised_chat has a supervise method").toBeTypeOf("function");
        const request: SuperviseRequest = { step: 0, policy_version: info.policy_version, chat: await chatSamples() };
        await expectApplied(await backend.supervise!(request), info.policy_version);
        await rejection(backend.supervise!(request), ConflictError);
        const [sample] = request.chat!;
        await refusedWithPath(backend.supervise!({ ...request, step: 1, chat: [{ ...sample!, messages: [] }] }), "chat[0].messages");
        await refusedWithPath(backend.supervise!({ ...request, step: 1, chat: [{ ...sample!, weight: -1 }] }), "chat[0].weight");
      });

      it("refuses chat samples when it cannot take them", async (context) => {
        if (info.capabilities.supervised_chat) context.skip("the backend claims capabilities.supervised_chat");
        if (backend.supervise === undefined) return;
        const chat: SuperviseChatSample[] = [{ rollout_id: "r", messages: [{ role: "user", content: "hi" }, { role: "assistant", content: "hello" }], weight: 1 }];
        await unsupported(backend.supervise({ step: 0, policy_version: info.policy_version, chat }), "supervised_chat");
      });
    });

    describe("over HTTP (when the factory gives the server's URL)", () => {
      /** POSTs `body` as is, past the client's own checks, and returns the status and the issues' paths. */
      async function postRaw(route: string, body: unknown): Promise<{ status: number; paths: string[]; code: string | undefined }> {
        const response = await fetch(new URL(`v2/${route}`, `${opened.serverUrl!.replace(/\/$/, "")}/`), { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
        const answer = (await response.json()) as { error?: { code?: string; details?: { issues?: Array<{ path: string }> } } };
        return { status: response.status, paths: (answer.error?.details?.issues ?? []).map((i) => i.path), code: answer.error?.code };
      }

      it("answers a bad train or supervise request with 400 and the issues' paths", async (context) => {
        if (opened.serverUrl === undefined) context.skip("not reached over HTTP");
        const good = await trainRequest(0);
        expect(await postRaw("train", { ...good, samples: [{ ...good.samples[0], token_weight: "heavy" }] })).toMatchObject({ status: 400, paths: ["samples[0].token_weight"] });
        expect(await postRaw("train", { ...good, step: "zero" })).toMatchObject({ status: 400, paths: ["step"] });
        expect(await postRaw("supervise", { step: 0, policy_version: info.policy_version })).toMatchObject({ status: 400, paths: ["samples"] });
        const chat = [{ rollout_id: "r", messages: [{ role: "narrator", content: "x" }], weight: 1 }];
        expect(await postRaw("supervise", { step: 0, policy_version: info.policy_version, chat })).toMatchObject({ status: 400, paths: ["chat[0].messages[0].role"] });
      });

      it("answers a supervised step it cannot take with 501 not_supported", async (context) => {
        if (opened.serverUrl === undefined) context.skip("not reached over HTTP");
        if (info.capabilities.supervised) context.skip("the backend claims capabilities.supervised");
        const samples = await superviseSamples();
        expect(await postRaw("supervise", { step: 0, policy_version: info.policy_version, samples })).toMatchObject({ status: 501, code: "not_supported" });
      });
    });
  });
}

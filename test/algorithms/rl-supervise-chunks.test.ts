/**
 * Supervised steps in chunks: reassembling them (SuperviseChunkAssembler) and sending them split
 * after a real 413 (superviseInChunks through HttpTrainingBackend ↔ serveTrainingBackend with a
 * small body limit, into a JsonlExportBackend whose file shows what arrived).
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { TracetrainError, ValidationError } from "../../src/types/index.js";
import { serveTrainingBackend } from "../../src/algorithms/rl/backend-server.js";
import { superviseInChunks } from "../../src/algorithms/rl/chunked-send.js";
import { HttpTrainingBackend } from "../../src/algorithms/rl/http-backend.js";
import { JsonlExportBackend } from "../../src/algorithms/rl/jsonl-export-backend.js";
import type { SuperviseChatSample, SuperviseRequest, SuperviseSample } from "../../src/algorithms/rl/protocol.js";
import { SuperviseChunkAssembler } from "../../src/algorithms/rl/train-chunks.js";

const root = mkdtempSync(join(tmpdir(), "tracetrain-supervise-chunks-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const tokens = (id: string, length = 3): SuperviseSample => ({
  rollout_id: id,
  prompt_ids: Array.from({ length }, (_, i) => 100 + i),
  response_ids: Array.from({ length }, (_, i) => 200 + i),
  loss_mask: Array.from({ length }, () => 1 as const),
  token_weight: 0.1,
});
const chat = (id: string): SuperviseChatSample => ({ rollout_id: id, messages: [{ role: "user", content: `question ${id}`.padEnd(60, ".") }, { role: "assistant", content: `answer ${id}`.padEnd(60, ".") }], weight: 0.1 });
const logger = { debug() {}, info() {}, error() {}, warnings: [] as string[], warn(message: string) { this.warnings.push(message); } };

describe("SuperviseChunkAssembler", () => {
  it("joins the parts' token and chat samples, each kind in order, into the whole step", () => {
    const assembler = new SuperviseChunkAssembler();
    const base = { step: 2, policy_version: 0 };
    expect(assembler.add({ ...base, samples: [tokens("t0")], chunk: { index: 0, count: 3 } })).toEqual({ pending: true });
    expect(assembler.add({ ...base, chat: [chat("c0")], chunk: { index: 1, count: 3 } })).toEqual({ pending: true });
    const done = assembler.add({ ...base, samples: [tokens("t1")], chat: [chat("c1")], chunk: { index: 2, count: 3 } });
    expect(done).toEqual({ pending: false, request: { ...base, samples: [tokens("t0"), tokens("t1")], chat: [chat("c0"), chat("c1")] } });
  });

  it("refuses a part of another step, naming the field, in a supervise request's terms", () => {
    const assembler = new SuperviseChunkAssembler();
    assembler.add({ step: 2, policy_version: 0, samples: [tokens("t0")], chunk: { index: 0, count: 2 } });
    const error = (() => {
      try {
        assembler.add({ step: 3, policy_version: 0, samples: [tokens("t1")], chunk: { index: 1, count: 2 } });
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues).toEqual([{ path: "step", message: "parts of step 2 are held (1 of 2); got a part of step 3" }]);
    expect((error as ValidationError).message).toMatch(/^invalid supervise request/);
  });
});

describe("superviseInChunks", () => {
  const endpoint = { name: "e", base_url: "http://127.0.0.1:9/v1", model: "m", policy_version: 0 };
  const lines = (path: string) => readFileSync(path, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { rollout_id: string });

  it("sends a step refused as too large (413) again in 2, 4… chunks, token and chat samples keeping their order", async () => {
    const dir = join(root, "split");
    const exporter = new JsonlExportBackend(dir, { model: "m", endpoints: [endpoint] });
    const request: Omit<SuperviseRequest, "chunk"> = { step: 1, policy_version: 0, samples: ["t0", "t1", "t2", "t3", "t4"].map((id) => tokens(id, 12)), chat: ["c0", "c1", "c2"].map(chat) };
    // A limit above any 2 samples and below any 4: the 8 samples go in 4 chunks of 2 after two 413s.
    const items = [...request.samples!, ...request.chat!];
    const size = (n: number) => Math.max(...Array.from({ length: items.length / n }, (_, i) => JSON.stringify({ step: 1, policy_version: 0, samples: items.slice(i * n, (i + 1) * n), chunk: { index: 0, count: 8 / n } }).length));
    const limit = size(2) + 40;
    expect(limit).toBeLessThan(Math.min(...[0, 1].map((i) => JSON.stringify({ step: 1, policy_version: 0, samples: items.slice(i * 4, i * 4 + 4) }).length)));
    const server = await serveTrainingBackend(exporter, { bodyLimitBytes: limit, logger });
    const client = new HttpTrainingBackend(server.url, { retryDelaysMs: [], logger });
    try {
      logger.warnings.length = 0;
      const { response, chunks } = await superviseInChunks(client, await client.info(), request, { logger, sender: "SFT", smaller: "keep fewer samples per round" });
      expect(response.pending).toBe(false);
      expect(chunks).toBe(4);
      expect(logger.warnings).toEqual([
        "SFT: the backend refused step 1 in 1 request(s) as too large; sending it in 2 chunks",
        "SFT: the backend refused step 1 in 2 request(s) as too large; sending it in 4 chunks",
      ]);
      // Chunks carry contiguous slices of [tokens…, chat…]: the file holds every sample once, in order.
      expect(lines(join(dir, "supervise-1.jsonl")).map((l) => l.rollout_id)).toEqual(["t0", "t1", "t2", "t3", "t4", "c0", "c1", "c2"]);
    } finally {
      await client.close();
      await server.close();
    }
  });

  it("says what to do when a single sample is too large, or the backend takes no chunks", async () => {
    const exporter = new JsonlExportBackend(join(root, "single"), { model: "m", endpoints: [endpoint] });
    const server = await serveTrainingBackend(exporter, { bodyLimitBytes: 300, logger });
    const client = new HttpTrainingBackend(server.url, { retryDelaysMs: [], logger });
    try {
      const info = await client.info();
      const single = await superviseInChunks(client, info, { step: 1, policy_version: 0, samples: [tokens("big", 40), tokens("big2", 40)] }, { logger, sender: "SFT", smaller: "keep fewer samples per round" }).catch((e: unknown) => e);
      expect(single).toBeInstanceOf(TracetrainError);
      expect((single as TracetrainError).message).toBe("the backend refused a single sample of step 1 as too large: raise its request size limit or shorten the agent's trajectories");
      const unchunked = { ...info, capabilities: { ...info.capabilities, chunked_train: false } };
      const refused = await superviseInChunks(client, unchunked, { step: 1, policy_version: 0, samples: [tokens("big", 40)] }, { logger, sender: "SFT", smaller: "keep fewer samples per round" }).catch((e: unknown) => e);
      expect((refused as TracetrainError).message).toBe(
        "the backend refused step 1 (1 samples) as too large and does not take chunked steps (capabilities.chunked_train): keep fewer samples per round, or raise the backend's request size limit",
      );
    } finally {
      await client.close();
      await server.close();
    }
  });
});

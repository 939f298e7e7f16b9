/**
 * Every TrainingBackend tracetrain ships, through the shared conformance suite (tracetrain/testing):
 * the reference backend and the JSONL exporter in process, and each of them behind
 * `serveTrainingBackend`, reached with `HttpTrainingBackend` over loopback HTTP. The reference
 * backend's token sequences are real calls to its endpoint through the `openai` SDK.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import type { ChatCompletion, ChatCompletionCreateParamsNonStreaming } from "openai/resources/chat/completions";
import * as vitest from "vitest";
import { type BackendUnderTest, type TokenSequence, describeBackendConformance } from "tracetrain/testing";
import { HttpTrainingBackend, JsonlExportBackend, ReferenceBackend, type TrainingBackend, serveTrainingBackend } from "tracetrain/rl";

const ACTIONS = ["1", "2", "3", "red", "blue", "green"];
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const root = mkdtempSync(join(tmpdir(), "tracetrain-backend-conformance-"));
let dirs = 0;
vitest.afterAll(() => rmSync(root, { recursive: true, force: true }));

type VllmCompletion = Omit<ChatCompletion, "choices"> & { prompt_token_ids?: number[]; choices: Array<ChatCompletion.Choice & { token_ids?: number[] }> };

/** Two answers of the reference policy, with the exact ids and logprobs its endpoint returned. */
async function referenceSequences(reference: ReferenceBackend): Promise<TokenSequence[]> {
  const openai = new OpenAI({ baseURL: reference.baseUrl, apiKey: "unused", maxRetries: 0 });
  const sequences: TokenSequence[] = [];
  for (const seed of [1, 2]) {
    const params = { model: reference.model, messages: [{ role: "user", content: "Which colour is the gem?" }], logprobs: true, return_token_ids: true, seed } as ChatCompletionCreateParamsNonStreaming;
    const completion = (await openai.chat.completions.create(params)) as VllmCompletion;
    const choice = completion.choices[0]!;
    sequences.push({ prompt_ids: completion.prompt_token_ids!, response_ids: choice.token_ids!, logprobs: choice.logprobs!.content!.map((t) => t.logprob) });
  }
  return sequences;
}

/** Conversations whose assistant turns the reference grammar can write: an action as the answer. */
const referenceConversations = async () => [
  { messages: [{ role: "user" as const, content: "Which colour is the gem?" }, { role: "assistant" as const, content: "red" }] },
  { messages: [{ role: "user" as const, content: "Which box holds it?" }, { role: "assistant" as const, content: "2" }] },
];

async function openReference(): Promise<{ backend: ReferenceBackend; under: Omit<BackendUnderTest, "backend" | "close"> }> {
  const backend = await ReferenceBackend.start({ actions: ACTIONS, seed: 7 });
  return { backend, under: { sequences: () => referenceSequences(backend), conversations: referenceConversations } };
}

const exportEndpoint = { name: "vllm", base_url: "http://127.0.0.1:9/v1", model: "student", policy_version: "base" };

/** Any ids will do for an exporter; the conversations carry tools and tool calls as OpenAI's fine-tuning format writes them. */
async function openExport(): Promise<{ backend: JsonlExportBackend; under: Omit<BackendUnderTest, "backend" | "close"> }> {
  const backend = new JsonlExportBackend(join(root, `export-${++dirs}`), { model: "student", endpoints: [exportEndpoint], capabilities: { token_ids: true } });
  const tools = [{ type: "function", function: { name: "open_box", parameters: { type: "object", properties: { box: { type: "integer" } }, required: ["box"] } } }];
  const conversation = (box: number) => ({
    messages: [
      { role: "user" as const, content: `Open box ${box}.` },
      { role: "assistant" as const, content: null, tool_calls: [{ id: `call_${box}`, type: "function", function: { name: "open_box", arguments: JSON.stringify({ box }) } }] },
      { role: "tool" as const, tool_call_id: `call_${box}`, content: "A red gem." },
      { role: "assistant" as const, content: "red" },
    ],
    tools,
  });
  return {
    backend,
    under: {
      sequences: async () => [
        { prompt_ids: [101, 102, 103], response_ids: [7, 8], logprobs: [-0.5, -1.5] },
        { prompt_ids: [101, 104], response_ids: [9], logprobs: [-0.25] },
      ],
      conversations: async () => [conversation(1), conversation(2)],
    },
  };
}

/** The backend in process. */
function inProcess(open: () => Promise<{ backend: TrainingBackend; under: Omit<BackendUnderTest, "backend" | "close"> }>): () => Promise<BackendUnderTest> {
  return async () => {
    const { backend, under } = await open();
    return { ...under, backend, close: () => backend.close() };
  };
}

/** The backend behind its protocol server, reached by the HTTP client. */
function overHttp(open: () => Promise<{ backend: TrainingBackend; under: Omit<BackendUnderTest, "backend" | "close"> }>): () => Promise<BackendUnderTest> {
  return async () => {
    const { backend, under } = await open();
    const server = await serveTrainingBackend(backend, { logger: quiet });
    const client = new HttpTrainingBackend(server.url, { logger: quiet, retryDelaysMs: [] });
    return {
      ...under,
      backend: client,
      serverUrl: server.url,
      close: async () => {
        await client.close();
        await server.close();
        await backend.close();
      },
    };
  };
}

describeBackendConformance("ReferenceBackend", { open: inProcess(openReference), updatesPolicy: true }, vitest);
describeBackendConformance("JsonlExportBackend", { open: inProcess(openExport), updatesPolicy: false }, vitest);
describeBackendConformance("HttpTrainingBackend ↔ serveTrainingBackend(ReferenceBackend)", { open: overHttp(openReference), updatesPolicy: true }, vitest);
describeBackendConformance("HttpTrainingBackend ↔ serveTrainingBackend(JsonlExportBackend)", { open: overHttp(openExport), updatesPolicy: false }, vitest);

/**
 * The reference backend's supervised step, over its real HTTP endpoint: next-token cross-entropy
 * at the choice points of mask-1 tokens (forced tokens and mask-0 tokens carry nothing), token
 * samples and chat samples rendered with the policy's own chat template learning alike, chat
 * messages the grammar cannot write refused naming the sample, and the step counter and chunk
 * assembly shared with `train`.
 */
import OpenAI from "openai";
import type { ChatCompletion, ChatCompletionCreateParamsNonStreaming, ChatCompletionMessageParam, ChatCompletionTool } from "openai/resources/chat/completions";
import { afterEach, describe, expect, it } from "vitest";
import { ConflictError, ValidationError } from "tracetrain";
import { ReferenceBackend } from "../../src/algorithms/rl/reference/index.js";
import { encodeAssistantMessage, tokenize } from "../../src/algorithms/rl/reference/chat-template.js";
import type { SuperviseChatSample, SuperviseRequest, SuperviseSample } from "../../src/algorithms/rl/protocol.js";

const COLOURS = ["red", "blue", "green", "yellow", "purple", "orange"];
const ACTIONS = ["1", "2", "3", "4", "5", "6", ...COLOURS];
const TOOLS: ChatCompletionTool[] = [
  { type: "function", function: { name: "open_box", parameters: { type: "object", properties: { box: { type: "integer", enum: [1, 2, 3, 4, 5, 6] } }, required: ["box"] } } },
];
const OPENING: ChatCompletionMessageParam[] = [
  { role: "system", content: "You open boxes and report gem colours." },
  { role: "user", content: "The treasure's colour is in box 3. Open it and tell me the colour." },
];
const TOOL_CALL: ChatCompletionMessageParam = { role: "assistant", content: null, tool_calls: [{ id: "c1", type: "function", function: { name: "open_box", arguments: '{"box":3}' } }] };
const TOOL_RESULT: ChatCompletionMessageParam = { role: "tool", tool_call_id: "c1", content: "Box 3 holds a purple gem." };
const ANSWER: ChatCompletionMessageParam = { role: "assistant", content: "purple" };
const CONVERSATION = [...OPENING, TOOL_CALL, TOOL_RESULT, ANSWER];

type VllmCompletion = Omit<ChatCompletion, "choices"> & { prompt_token_ids?: number[]; choices: Array<ChatCompletion.Choice & { token_ids?: number[] }> };

const backends: ReferenceBackend[] = [];
afterEach(async () => {
  for (const backend of backends.splice(0)) await backend.close();
});

async function start(): Promise<ReferenceBackend> {
  const backend = await ReferenceBackend.start({ actions: ACTIONS, seed: 1 });
  backends.push(backend);
  return backend;
}

/** What the endpoint answers at temperature 0 (its most likely response), with the prompt's exact token ids. */
async function greedy(backend: ReferenceBackend, messages: ChatCompletionMessageParam[]): Promise<{ prompt: number[]; message: ChatCompletion.Choice["message"] }> {
  const openai = new OpenAI({ baseURL: backend.baseUrl, apiKey: "unused", maxRetries: 0 });
  const params = { model: backend.model, messages, tools: TOOLS, temperature: 0, return_token_ids: true } as ChatCompletionCreateParamsNonStreaming;
  const completion = (await openai.chat.completions.create(params)) as VllmCompletion;
  return { prompt: completion.prompt_token_ids!, message: completion.choices[0]!.message };
}

function chatSample(messages: ChatCompletionMessageParam[], overrides: Partial<SuperviseChatSample> = {}): SuperviseChatSample {
  return { rollout_id: "teacher-1", messages: messages as SuperviseChatSample["messages"], tools: TOOLS as unknown as SuperviseChatSample["tools"], weight: 1, ...overrides };
}

describe("ReferenceBackend.supervise", () => {
  it("says it takes token and chat samples", async () => {
    const backend = await start();
    expect((await backend.info()).capabilities).toMatchObject({ supervised: true, supervised_chat: true });
  });

  it("learns a target answer by cross-entropy from a token sample: the loss falls step by step until the policy writes it", async () => {
    const backend = await start();
    const context = [...OPENING, TOOL_CALL, TOOL_RESULT];
    const before = await greedy(backend, context);
    expect(before.message.content).not.toBe("purple");
    const response = tokenize("purple");
    const request = (step: number): SuperviseRequest => ({ step, policy_version: step - 1, samples: [{ rollout_id: "r", prompt_ids: before.prompt, response_ids: response, loss_mask: [1], token_weight: 1, reward: 1 }] });
    const losses: number[] = [];
    for (let step = 1; step <= 4; step++) {
      const answer = await backend.supervise(request(step));
      expect(answer.policy_version).toBe(step);
      expect(answer.metrics).toMatchObject({ tokens: 1, choice_tokens: 1, forced_tokens: 0, samples: 1, chat_samples: 0, mean_reward: 1 });
      losses.push(answer.metrics.loss!);
    }
    // The first loss is −log π(purple) under the initial policy: one answer among the 12 actions, no better than chance.
    expect(losses[0]).toBeGreaterThan(Math.log(6));
    for (let i = 1; i < losses.length; i++) expect(losses[i]).toBeLessThan(losses[i - 1]!);
    expect((await greedy(backend, context)).message.content).toBe("purple");
    expect((await backend.endpoints()).policy_version).toBe(4);
  });

  it("learns nothing from mask-0 tokens, and nothing from the forced tokens of a tool call (only its choices)", async () => {
    const backend = await start();
    const { prompt } = await greedy(backend, OPENING);
    const call = encodeAssistantMessage(TOOL_CALL as Parameters<typeof encodeAssistantMessage>[0]);
    const sample: SuperviseSample = { rollout_id: "r", prompt_ids: prompt, response_ids: call, loss_mask: call.map(() => 1 as const), token_weight: 1 / call.length };
    const answer = await backend.supervise({ step: 1, policy_version: 0, samples: [sample] });
    // Answer-or-tool and which box are chosen; the rest of the call is syntax.
    expect(answer.metrics).toMatchObject({ tokens: call.length, choice_tokens: 2, forced_tokens: call.length - 2 });
    const masked = await start();
    await expect(masked.supervise({ step: 1, policy_version: 0, samples: [{ ...sample, loss_mask: call.map(() => 0 as const) }] })).rejects.toMatchObject({
      issues: [expect.objectContaining({ path: "samples", message: expect.stringMatching(/nothing to learn/) })],
    });
  });

  it("renders chat samples with its chat template and learns them exactly as the same conversation's token samples", async () => {
    const fromChat = await start();
    const fromTokens = await start();
    const first = await greedy(fromTokens, OPENING);
    const second = await greedy(fromTokens, [...OPENING, TOOL_CALL, TOOL_RESULT]);
    const callIds = encodeAssistantMessage(TOOL_CALL as Parameters<typeof encodeAssistantMessage>[0]);
    const answerIds = tokenize("purple");
    const weight = 1 / (callIds.length + answerIds.length);
    const viaTokens = await fromTokens.supervise({
      step: 1,
      policy_version: 0,
      samples: [
        { rollout_id: "r", prompt_ids: first.prompt, response_ids: callIds, loss_mask: callIds.map(() => 1 as const), token_weight: weight },
        { rollout_id: "r", prompt_ids: second.prompt, response_ids: answerIds, loss_mask: [1], token_weight: weight },
      ],
    });
    const viaChat = await fromChat.supervise({ step: 1, policy_version: 0, chat: [chatSample(CONVERSATION)] });
    expect(viaChat.metrics).toMatchObject({ chat_samples: 1, samples: 0, tokens: callIds.length + 1, choice_tokens: 3 });
    expect(viaChat.metrics.loss).toBeCloseTo(viaTokens.metrics.loss!, 12);
    expect(fromChat.state().policy).toEqual(fromTokens.state().policy);
    // An assistant message with weight 0 (a few-shot example) is context, not a target.
    const weighted = await start();
    const onlyAnswer = await weighted.supervise({ step: 1, policy_version: 0, chat: [chatSample([...OPENING, { ...TOOL_CALL, weight: 0 } as ChatCompletionMessageParam, TOOL_RESULT, ANSWER])] });
    expect(onlyAnswer.metrics).toMatchObject({ tokens: 1, choice_tokens: 1 });
  });

  it("refuses an assistant message the grammar cannot write, naming the sample and the message, and applies nothing", async () => {
    const backend = await start();
    const chatty = chatSample([...OPENING, { role: "assistant", content: "Let me think about it." }], { rollout_id: "teacher-7" });
    const error = await backend.supervise({ step: 1, policy_version: 0, chat: [chatSample(CONVERSATION), chatty] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues).toEqual([{ path: "chat[1].messages[2]", message: expect.stringMatching(/^sample 'teacher-7': .*not a response the reference policy writes/) }]);
    expect(backend.policyVersion).toBe(0);
    const none = chatSample([...OPENING, { ...ANSWER, weight: 0 } as ChatCompletionMessageParam], { rollout_id: "teacher-8" });
    await expect(backend.supervise({ step: 1, policy_version: 0, chat: [none] })).rejects.toMatchObject({ issues: [{ path: "chat[0].messages", message: expect.stringMatching(/teacher-8.*no assistant message to learn/) }] });
    await expect(backend.supervise({ step: 1, policy_version: 0 })).rejects.toMatchObject({ issues: [expect.objectContaining({ path: "samples" })] });
  });

  it("shares the step counter and the chunk assembly with train", async () => {
    const backend = await start();
    const { prompt } = await greedy(backend, [...OPENING, TOOL_CALL, TOOL_RESULT]);
    const sample: SuperviseSample = { rollout_id: "r", prompt_ids: prompt, response_ids: tokenize("purple"), loss_mask: [1], token_weight: 0.5 };
    await backend.train({ step: 1, policy_version: 0, samples: [{ rollout_id: "r", group_id: "g", prompt_ids: prompt, response_ids: tokenize("red"), response_mask: [1], logprobs: [null], advantage: 1, reward: 1, token_weight: 1 }] });
    await expect(backend.supervise({ step: 1, policy_version: 1, samples: [sample] })).rejects.toBeInstanceOf(ConflictError);
    // A supervised step in two parts: held, then applied whole; a train step may not come between.
    expect(await backend.supervise({ step: 2, policy_version: 1, samples: [sample], chunk: { index: 0, count: 2 } })).toMatchObject({ pending: true, policy_version: 1 });
    await expect(backend.train({ step: 3, policy_version: 1, samples: [{ rollout_id: "r", group_id: "g", prompt_ids: prompt, response_ids: tokenize("red"), response_mask: [1], logprobs: [null], advantage: 1, reward: 1, token_weight: 1 }] })).rejects.toMatchObject({
      issues: [expect.objectContaining({ path: "chunk" })],
    });
    const done = await backend.supervise({ step: 2, policy_version: 1, chat: [chatSample(CONVERSATION)], chunk: { index: 1, count: 2 } });
    expect(done).toMatchObject({ policy_version: 2, metrics: expect.objectContaining({ samples: 1, chat_samples: 1 }) });
    await expect(backend.train({ step: 2, policy_version: 2, samples: [{ rollout_id: "r", group_id: "g", prompt_ids: prompt, response_ids: tokenize("red"), response_mask: [1], logprobs: [null], advantage: 1, reward: 1, token_weight: 1 }] })).rejects.toBeInstanceOf(ConflictError);
  });
});

/**
 * Adapter benchmark: spans → transitions and spans → merged token samples for N rollouts of C LLM
 * calls each, on one core. The spans are shaped like what the tracer records for a LangChain
 * ReAct agent over the openai SDK: per call a LangChain `llm_run` wrapper and the openai `llm`
 * span under it (same response id: deduplicated), then a tool span; a reward span and the root.
 * Prompts grow turn by turn (system + task, then each response and tool result), with vLLM token
 * ids and logprobs, so every call's prompt extends the previous sequence and merging does real
 * prefix checks; one rollout in ten re-renders an earlier turn (a template mismatch).
 *
 * The reference, measured in the same run over the same spans, is the floor any adapter pays: a
 * plain walk that visits every span and reads its type, and for LLM spans the messages and token
 * arrays it would need (no parsing, no copying, no output).
 *
 *   npm run bench -- adapters [--rollouts N] [--calls N]
 */
import { parseArgs } from "node:util";
import { type JsonValue, type Span } from "tracetrain";
import { toMergedSamples, toTransitions } from "tracetrain/adapters";
import { round } from "./lib/stats.js";

const SYSTEM_TOKENS = 200;
const RESPONSE_TOKENS = 40;
const TOOL_TOKENS = 30;
const REPEATS = 3;

interface Workload {
  rollouts: Span[][];
  spans: number;
  calls: number;
}

export async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, strict: true, options: { rollouts: { type: "string" }, calls: { type: "string" } } });
  const rollouts = Number(values.rollouts ?? 10_000);
  const calls = Number(values.calls ?? 10);
  process.stderr.write(`building ${rollouts} rollouts of ${calls} calls…\n`);
  const workload = build(rollouts, calls);
  const context = (reward: number) => ({ finalReward: reward, groupId: "bench" });

  // Warm-up: let V8 optimize every path before measuring.
  const warm = { rollouts: workload.rollouts.slice(0, Math.min(1000, rollouts)), spans: 0, calls };
  for (let i = 0; i < 3; i++) {
    walk(warm);
    for (const spans of warm.rollouts) toTransitions(spans, { context: context(1) });
    for (const spans of warm.rollouts) toMergedSamples(spans, { context: context(1) });
  }

  let transitions = 0;
  let samples = 0;
  let merged = 0;
  const walkSeconds = median(() => void walk(workload));
  const transitionSeconds = median(() => {
    transitions = 0;
    for (const spans of workload.rollouts) transitions += toTransitions(spans, { context: context(1) }).length;
  });
  const mergeSeconds = median(() => {
    samples = 0;
    merged = 0;
    for (const spans of workload.rollouts) {
      const out = toMergedSamples(spans, { context: context(1) });
      samples += out.length;
      for (const s of out) merged += s.callIds.length;
    }
  });
  if (transitions !== rollouts * calls) throw new Error(`expected ${rollouts * calls} transitions, got ${transitions}`);
  if (merged !== rollouts * calls) throw new Error(`expected every call in a sample, got ${merged} of ${rollouts * calls}`);

  const result = {
    bench: "adapters",
    rollouts,
    calls_per_rollout: calls,
    spans: workload.spans,
    spans_per_s: round(workload.spans / transitionSeconds),
    merged_spans_per_s: round(workload.spans / mergeSeconds),
    samples_per_rollout: round(samples / rollouts, 2),
    walk_spans_per_s: round(workload.spans / walkSeconds),
    ratio_vs_walk: round(walkSeconds / transitionSeconds, 3),
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

/** The median wall time of REPEATS runs, in seconds. */
function median(run: () => void): number {
  const times: number[] = [];
  for (let i = 0; i < REPEATS; i++) {
    const started = performance.now();
    run();
    times.push((performance.now() - started) / 1000);
  }
  return times.sort((a, b) => a - b)[Math.floor(REPEATS / 2)]!;
}

/** The floor: every span visited, and what an adapter must at least look at read once. */
function walk(workload: Workload): number {
  let sum = 0;
  for (const spans of workload.rollouts) {
    for (const span of spans) {
      const a = span.attributes;
      if (a["tracetrain.span.type"] !== "llm") continue;
      const input = a["gen_ai.input.messages"] as unknown[];
      const prompt = a["tracetrain.llm.prompt_token_ids"] as number[];
      const response = (a["tracetrain.llm.response_token_ids"] as number[][])[0]!;
      sum += input.length + prompt.length + response.length + (prompt[prompt.length - 1] ?? 0);
    }
  }
  return sum;
}

/**
 * The spans. Token arrays and message lists are built once per turn and shared by every rollout
 * (adapters never change their input), so memory holds 10,000 rollouts; span objects and their
 * attribute records are per rollout, as a store returns them.
 */
function build(rolloutCount: number, calls: number): Workload {
  const turns = conversation(calls, false);
  const drifted = conversation(calls, true);
  const rollouts: Span[][] = [];
  let spans = 0;
  for (let r = 0; r < rolloutCount; r++) {
    const rolloutId = `ro-${r}`;
    const attemptId = `at-${r}`;
    const traceId = (r + 1).toString(16).padStart(32, "0");
    let next = 0;
    const id = () => (r * 1000 + ++next).toString(16).padStart(16, "0");
    const rootId = id();
    const out: Span[] = [];
    let seq = 0;
    const span = (spanId: string, parentId: string | null, name: string, start: number, attributes: Record<string, JsonValue>): Span => ({
      rolloutId,
      attemptId,
      traceId,
      spanId,
      parentId,
      name,
      kind: "internal",
      startTime: start,
      endTime: start + 1,
      status: { code: "ok" },
      attributes,
      events: [],
      links: [],
      sequence: ++seq,
    });
    const source = r % 10 === 9 ? drifted : turns;
    source.forEach((turn, k) => {
      const runId = id();
      const callId = id();
      const responseId = `chatcmpl-${r}-${k}`;
      const common = {
        "tracetrain.agent.name": "solver",
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "mock-model",
        "gen_ai.response.id": responseId,
        "gen_ai.input.messages": turn.messages,
        "gen_ai.output.messages": turn.output,
        "gen_ai.tool.definitions": TOOLS,
      };
      // Stored in the order they ended: the openai call, its LangChain wrapper, then the tool.
      out.push(
        span(callId, runId, "chat mock-model", k * 10 + 1, {
          ...common,
          "tracetrain.span.type": "llm",
          "tracetrain.layer": "openai",
          "gen_ai.usage.input_tokens": turn.prompt.length,
          "gen_ai.usage.output_tokens": turn.response.length,
          "tracetrain.llm.prompt_token_ids": turn.prompt,
          "tracetrain.llm.response_token_ids": [turn.response],
          "tracetrain.llm.logprobs": [turn.logprobs],
        }),
        span(runId, rootId, "chat mock-model", k * 10, { ...common, "tracetrain.span.type": "llm_run", "tracetrain.layer": "langchain", "tracetrain.llm.recorded_by": "openai" }),
      );
      if (k < calls - 1) {
        out.push(
          span(id(), rootId, "execute_tool search", k * 10 + 5, {
            "tracetrain.span.type": "tool",
            "tracetrain.layer": "langchain",
            "tracetrain.agent.name": "solver",
            "gen_ai.tool.name": "search",
            "gen_ai.tool.call.id": `call_${k}`,
            "gen_ai.tool.call.arguments": '{"q":"tide pools"}',
            "gen_ai.tool.call.result": "Tide pools are rocky pools on the seashore.",
          }),
        );
      }
    });
    out.push(
      span(id(), rootId, "tracetrain.reward", calls * 10, { "tracetrain.span.type": "reward", "tracetrain.reward.value": 1, "tracetrain.reward.final": true, "tracetrain.agent.name": "solver" }),
      span(rootId, null, "tracetrain.rollout", 0, { "tracetrain.span.type": "rollout", "tracetrain.agent.name": "solver" }),
    );
    spans += out.length;
    rollouts.push(out);
  }
  return { rollouts, spans, calls: rolloutCount * calls };
}

const TOOLS: JsonValue[] = [{ type: "function", function: { name: "search", description: "Searches the web.", parameters: { type: "object", properties: { q: { type: "string" } } } } }];

interface Turn {
  messages: JsonValue[];
  output: JsonValue[];
  prompt: number[];
  response: number[];
  logprobs: number[];
}

/** One conversation's turns; with `drift`, turn 5 re-renders an earlier token (a template mismatch). */
function conversation(calls: number, drift: boolean): Turn[] {
  let token = 1;
  const ids = (n: number) => Array.from({ length: n }, () => (token = (token * 48_271) % 199_999));
  const messages: JsonValue[] = [
    { role: "system", content: "You are a research assistant. Use the search tool, then answer." },
    { role: "user", content: "What lives in tide pools?" },
  ];
  let sequence = ids(SYSTEM_TOKENS);
  const turns: Turn[] = [];
  for (let k = 0; k < calls; k++) {
    const prompt = drift && k === 5 ? [...sequence.slice(0, 10), 7, ...sequence.slice(11)] : sequence;
    const response = ids(RESPONSE_TOKENS);
    const last = k === calls - 1;
    const output: JsonValue = last
      ? { role: "assistant", content: "Anemones, crabs and sea stars.", finish_reason: "stop" }
      : { role: "assistant", content: null, tool_calls: [{ id: `call_${k}`, type: "function", function: { name: "search", arguments: '{"q":"tide pools"}' } }], finish_reason: "tool_calls" };
    turns.push({ messages: [...messages], output: [output], prompt, response, logprobs: response.map((id) => -((id % 97) + 1) / 100) });
    const { finish_reason: _, ...asSent } = output as { finish_reason: string };
    messages.push(asSent, { role: "tool", tool_call_id: `call_${k}`, content: "Tide pools are rocky pools on the seashore." });
    sequence = [...prompt, ...response, ...ids(TOOL_TOKENS)];
  }
  return turns;
}

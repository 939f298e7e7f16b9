/**
 * The refund-desk agent: plain openai-SDK code with one tool. It reads a customer's refund
 * request, calls `lookup_order`, and answers one of refund, credit, deny or escalate; the reward
 * is 1 for the answer the shop's policy gives, else 0, with the evaluator's feedback saying why. Two of its texts are optimizable and come
 * from the trainer's resources: the `system` prompt (the policy) and `lookup_tool`, the
 * description of its tool — plus the `request` template the task fills.
 */
import OpenAI from "openai";
import type { ChatCompletionMessageParam, ChatCompletionTool } from "openai/resources/chat/completions";
import { agent, type AgentContext, emitReward } from "tracetrain";
import { answerOf, feedbackFor, lookupOrder, type RefundTask, rewardFor, type ToolCallRecord } from "./orders.js";

export const TOOL_NAME = "lookup_order";

function toolWith(description: string): ChatCompletionTool {
  return {
    type: "function",
    function: {
      name: TOOL_NAME,
      description,
      parameters: {
        type: "object",
        properties: {
          order_id: { type: "string", description: "the order's id" },
          include_history: { type: "boolean", description: "also return the customer's order history" },
        },
        required: ["order_id"],
        additionalProperties: false,
      },
    },
  };
}

function runTool(args: string): ToolCallRecord {
  try {
    const parsed = JSON.parse(args) as Record<string, unknown>;
    return { arguments: parsed, result: lookupOrder(parsed) };
  } catch (error) {
    return { arguments: {}, result: { error: `bad arguments: ${(error as Error).message}` } };
  }
}

const clients = new Map<string, OpenAI>();
function clientFor(baseURL: string, apiKey: string | undefined): OpenAI {
  let client = clients.get(baseURL);
  if (!client) clients.set(baseURL, (client = new OpenAI({ baseURL, apiKey: apiKey ?? process.env.OPENAI_API_KEY ?? "none" })));
  return client;
}

/** Runs the conversation and returns the decision and the tool calls made on the way. */
async function decide(task: RefundTask, ctx: AgentContext): Promise<{ answer: ReturnType<typeof answerOf>; trace: ToolCallRecord[] }> {
  const llm = ctx.llm();
  const client = clientFor(llm.baseUrl, llm.apiKey);
  const tool = toolWith(ctx.prompt("lookup_tool").format({}));
  const messages: ChatCompletionMessageParam[] = [
    { role: "system", content: ctx.prompt("system").format({}) },
    { role: "user", content: ctx.prompt("request").format({ ...task.task_input }) },
  ];
  const trace: ToolCallRecord[] = [];
  for (let turn = 0; turn < 4; turn++) {
    const completion = await client.chat.completions.create({ model: llm.model, messages, tools: [tool], temperature: 0 }, { signal: ctx.signal });
    const message = completion.choices[0]?.message;
    if (!message) return { answer: undefined, trace };
    messages.push(message);
    if (!message.tool_calls?.length) return { answer: answerOf(message.content), trace };
    for (const call of message.tool_calls) {
      let content: string;
      if (call.type === "function" && call.function.name === TOOL_NAME) {
        const record = runTool(call.function.arguments);
        trace.push(record);
        content = JSON.stringify(record.result);
      } else {
        content = JSON.stringify({ error: `unknown tool ${call.type === "function" ? call.function.name : call.type}` });
      }
      messages.push({ role: "tool", tool_call_id: call.id, content });
    }
  }
  return { answer: undefined, trace }; // no decision after four turns
}

export const refundDesk = agent(
  async (task: RefundTask, ctx) => {
    const { answer, trace } = await decide(task, ctx);
    // The feedback says why, in the shop's terms: what an optimizer reads to learn which rule was missing.
    emitReward(rewardFor(task, answer), { feedback: feedbackFor(task, answer, trace) });
  },
  { name: "refund-desk" },
);

/** The texts the optimization starts from: they say what to do, but state none of the shop's rules. */
export const SEED_PROMPTS = {
  system: {
    kind: "prompt_template",
    template: "You are a customer-support agent for an online shop. Look up the order with the lookup_order tool, then decide the refund request. Reply with exactly one word: refund, credit, deny or escalate.",
  },
  lookup_tool: {
    kind: "prompt_template",
    template: "Looks up an order by its id and returns the item, its price, how many days ago it was delivered and whether it was sold as final sale.",
  },
  request: {
    kind: "prompt_template",
    template: "Customer {{customer}} writes about order {{order_id}}: {{message}}",
  },
} as const;

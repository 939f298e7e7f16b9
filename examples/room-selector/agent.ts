/**
 * The room-selector agent: plain openai-SDK code with one tool. It reads the booking request,
 * calls `get_rooms_and_availability`, and names a room; the reward is 1 for the expected room,
 * else 0. Its two prompts — `system` and the `request` template the task fills — come from the
 * trainer's resources, which is all APO needs to optimize them.
 */
import OpenAI from "openai";
import type { ChatCompletionMessageParam, ChatCompletionTool } from "openai/resources/chat/completions";
import { agent } from "tracetrain";
import { listRooms, loadRooms, type RoomTask } from "./rooms.js";

const rooms = loadRooms();

const TOOL: ChatCompletionTool = {
  type: "function",
  function: {
    name: "get_rooms_and_availability",
    description: "Lists every meeting room with its capacity, equipment, accessibility, walking distance, and whether it is free for the requested slot.",
    parameters: {
      type: "object",
      properties: {
        date: { type: "string", description: "YYYY-MM-DD" },
        time: { type: "string", description: "start time, HH:MM" },
        duration_min: { type: "integer", description: "length of the meeting in minutes" },
      },
      required: ["date", "time", "duration_min"],
      additionalProperties: false,
    },
  },
};

/** The answer the agent gave, as a room id or "No Room" (the first one its reply names). */
export function answerOf(text: string | null | undefined): string | undefined {
  if (!text) return undefined;
  if (/\bno room\b/i.test(text)) return "No Room";
  return rooms.find((room) => new RegExp(`\\b${room.id}\\b`, "i").test(text))?.id;
}

function runTool(args: string): string {
  try {
    const { date, time, duration_min } = JSON.parse(args) as { date: string; time: string; duration_min: number };
    return JSON.stringify(listRooms(rooms, { date, time, duration_min: Number(duration_min) }));
  } catch (error) {
    return JSON.stringify({ error: `bad arguments: ${(error as Error).message}` });
  }
}

const clients = new Map<string, OpenAI>();
function clientFor(baseURL: string, apiKey: string | undefined): OpenAI {
  let client = clients.get(baseURL);
  if (!client) clients.set(baseURL, (client = new OpenAI({ baseURL, apiKey: apiKey ?? process.env.OPENAI_API_KEY ?? "none" })));
  return client;
}

export const roomSelector = agent(
  async (task: RoomTask, ctx) => {
    const llm = ctx.llm();
    const client = clientFor(llm.baseUrl, llm.apiKey);
    const request = { ...task.task_input, needs: task.task_input.needs.join(", ") || "none" };
    const messages: ChatCompletionMessageParam[] = [
      { role: "system", content: ctx.prompt("system").format({}) },
      { role: "user", content: ctx.prompt("request").format(request) },
    ];
    for (let turn = 0; turn < 4; turn++) {
      const completion = await client.chat.completions.create({ model: llm.model, messages, tools: [TOOL], temperature: 0 }, { signal: ctx.signal });
      const message = completion.choices[0]?.message;
      if (!message) return 0;
      messages.push(message);
      if (!message.tool_calls?.length) return answerOf(message.content) === task.expected_choice ? 1 : 0;
      for (const call of message.tool_calls) {
        const content = call.type === "function" && call.function.name === TOOL.function.name ? runTool(call.function.arguments) : `unknown tool ${call.type}`;
        messages.push({ role: "tool", tool_call_id: call.id, content });
      }
    }
    return 0; // no answer after four turns
  },
  { name: "room-selector" },
);

/** The prompts the optimization starts from: short, stating none of the booking rules. */
export const SEED_PROMPTS = {
  system: {
    kind: "prompt_template",
    template: "You are a scheduling assistant. Use the get_rooms_and_availability tool to look up the rooms, then reply with the id of the room to book and nothing else.",
  },
  request: {
    kind: "prompt_template",
    template:
      "Date: {{date}}. Start: {{time}}. Duration: {{duration_min}} minutes. Attendees: {{attendees}}. Equipment needed: {{needs}}. Accessible room required: {{accessible_required}}.",
  },
} as const;

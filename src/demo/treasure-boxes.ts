/**
 * The demo's task: six boxes each hold a gem of some colour; a task says whose treasure to find.
 * The agent — plain openai-SDK code, nothing tracetrain-specific inside — asks the model which box
 * to open (a tool call), opens it, passes what it found back (a tool result), and asks for the
 * colour. A verifier scores it: half for opening the right box, half for truly naming the colour
 * of the gem in the box it opened — two skills, each worth its half whatever the other did.
 *
 * Two kinds of clue. A `box` clue names the box ("The treasure's colour is in box 3"): both
 * answers are then written in a message the model reads, so copying is enough. A `keeper` clue
 * names who keeps the treasure ("The treasure belongs to the owl"): each keeper always uses the
 * same box, a rule no message ever states, so the box can only be learned from rewards — copying
 * cannot help there. The colour is still read from the tool's result.
 */
import OpenAI from "openai";
import type { ChatCompletionMessageParam, ChatCompletionTool } from "openai/resources/chat/completions";
import { agent } from "../runner/index.js";
import { SeededRandom } from "../util/index.js";

export const COLOURS = ["red", "blue", "green", "yellow", "purple", "orange"] as const;
export const BOXES = [1, 2, 3, 4, 5, 6] as const;

/** Who may keep a treasure, and the box each always uses: the rule a `keeper` clue asks the policy to learn. */
export const KEEPERS = { owl: 4, fox: 2, bear: 6, wolf: 1, hare: 5, crow: 3 } as const satisfies Record<string, (typeof BOXES)[number]>;
export type Keeper = keyof typeof KEEPERS;

/** How a task points at the treasure's box: by number (copyable) or by its keeper (a hidden rule). */
export type Clue = "box" | "keeper";

/** What the policy can say: a box number (as the tool's argument) or a colour (as the answer). */
export const ACTIONS: readonly string[] = [...BOXES.map(String), ...COLOURS];

export interface TreasureTask {
  id: string;
  /** The box holding the treasure's colour. */
  box: number;
  /** Box number → gem colour. */
  gems: Record<string, string>;
  /** Set for a `keeper` clue: the task names the keeper, whose box is `box`, instead of the box. */
  keeper?: Keeper;
}

/** `count` tasks, each with its own shuffle of colours over boxes and its own treasure box. */
export function makeTasks(count: number, seed: number, prefix = "t", clue: Clue = "box"): TreasureTask[] {
  const random = new SeededRandom(seed);
  const keepers = Object.keys(KEEPERS) as Keeper[];
  return Array.from({ length: count }, (_, i) => {
    const colours = random.shuffle(COLOURS);
    const gems = Object.fromEntries(BOXES.map((box, j) => [String(box), colours[j]!]));
    if (clue === "box") return { id: `${prefix}${i}`, box: BOXES[random.below(BOXES.length)]!, gems };
    const keeper = keepers[random.below(keepers.length)]!;
    return { id: `${prefix}${i}`, box: KEEPERS[keeper], gems, keeper };
  });
}

/** The user's request: the box by number, or only whose treasure it is. */
export function request(task: TreasureTask): string {
  if (task.keeper === undefined) return `The treasure's colour is in box ${task.box}. Open it and tell me the colour.`;
  return `The treasure belongs to the ${task.keeper}. Open the ${task.keeper}'s box and tell me the colour of the gem inside.`;
}

const OPEN_BOX: ChatCompletionTool = {
  type: "function",
  function: {
    name: "open_box",
    description: "Opens a box and says what gem it holds.",
    parameters: { type: "object", properties: { box: { type: "integer", enum: [...BOXES], description: "the box number, 1 to 6" } }, required: ["box"] },
  },
};

function openBox(task: TreasureTask, argumentsJson: string): { opened: number | undefined; text: string } {
  let box: unknown;
  try {
    box = (JSON.parse(argumentsJson) as { box?: unknown }).box;
  } catch {
    return { opened: undefined, text: "The tool needs JSON arguments like {\"box\": 3}." };
  }
  const gem = task.gems[String(box)];
  if (typeof box !== "number" || gem === undefined) return { opened: undefined, text: `There is no box ${String(box)}.` };
  return { opened: box, text: `Box ${box} holds a ${gem} gem.` };
}

/**
 * The verifier: 0.5 for opening the treasure's box, 0.5 for naming the colour of the gem in the box
 * that was opened. Reporting what the tool showed earns its half even after a wrong box, so the
 * two skills (finding the box, reading the result) are rewarded independently.
 */
export function score(task: TreasureTask, opened: number | undefined, answer: string | null | undefined): number {
  const seen = opened === undefined ? undefined : task.gems[String(opened)];
  return (opened === task.box ? 0.5 : 0) + (seen !== undefined && answer?.trim().toLowerCase() === seen ? 0.5 : 0);
}

export const treasureHunter = agent(
  async (task: TreasureTask, ctx) => {
    const llm = ctx.llm();
    const client = new OpenAI({ baseURL: llm.baseUrl, apiKey: llm.apiKey ?? "none", maxRetries: 0 });
    const messages: ChatCompletionMessageParam[] = [
      { role: "system", content: "You open boxes and report gem colours." },
      { role: "user", content: request(task) },
    ];
    const first = await client.chat.completions.create({ model: llm.model, messages, tools: [OPEN_BOX] }, { signal: ctx.signal });
    const reply = first.choices[0]?.message;
    if (!reply) return 0;
    messages.push(reply);
    let opened: number | undefined;
    for (const call of reply.tool_calls ?? []) {
      if (call.type !== "function") continue;
      const result = call.function.name === "open_box" ? openBox(task, call.function.arguments) : { opened: undefined, text: `Unknown tool ${call.function.name}.` };
      opened ??= result.opened;
      messages.push({ role: "tool", tool_call_id: call.id, content: result.text });
    }
    if (opened === undefined && !reply.tool_calls?.length) return score(task, undefined, reply.content);
    const second = await client.chat.completions.create({ model: llm.model, messages, tools: [OPEN_BOX] }, { signal: ctx.signal });
    return score(task, opened, second.choices[0]?.message.content);
  },
  { name: "treasure-hunter", module: import.meta.url },
);

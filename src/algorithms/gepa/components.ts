/**
 * Which resources a run evolves, and which LLM calls each one shaped. A prompt template shapes a
 * call when its fixed text — everything but its placeholders — appears, in order, in one of the
 * call's messages or in the description of a tool the call offered: that finds a system prompt,
 * a filled-in request template and a tool description alike, without the agent having to say
 * which resource it read.
 */
import { agentMatcher, offeredTools } from "../../adapters/index.js";
import type { ChatMessage, JsonValue, PromptTemplateResource, ResourcesMap } from "../../types/index.js";

/** Fixed pieces shorter than this are too common ("Date: ", ". ") to tell one template from another on their own. */
const MIN_PIECE = 4;

/** The template's fixed text between placeholders, in order (f-string `{{`/`}}` read as the braces they stand for). */
export function literalPieces(resource: Pick<PromptTemplateResource, "template" | "engine">): string[] {
  const pieces: string[] = [];
  let current = "";
  const pattern = resource.engine === "mustache" ? /\{\{\{?\s*[A-Za-z_][\w.]*\s*\}?\}\}/g : /\{\{|\}\}|\{[A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)*\}/g;
  let last = 0;
  for (const match of resource.template.matchAll(pattern)) {
    current += resource.template.slice(last, match.index);
    last = match.index + match[0].length;
    if (resource.engine === "fstring" && (match[0] === "{{" || match[0] === "}}")) current += match[0][0];
    else {
      pieces.push(current);
      current = "";
    }
  }
  pieces.push(current + resource.template.slice(last));
  return pieces.map((p) => p.trim()).filter((p) => p.length > 0);
}

/** Whether `text` holds the pieces in order. */
function containsInOrder(text: string, pieces: readonly string[]): boolean {
  let from = 0;
  for (const piece of pieces) {
    const at = text.indexOf(piece, from);
    if (at < 0) return false;
    from = at + piece.length;
  }
  return true;
}

/** What a call showed the model: its messages and the tool definitions it offered (a chat record's shape). */
export interface CallText {
  messages: readonly ChatMessage[];
  tools?: readonly JsonValue[] | undefined;
}

/**
 * A test for the calls `resource` shaped: one of the call's messages, or the description of one
 * of the tools it offered, holds its fixed text in order. A template that is all placeholders (or
 * only short fixed bits) cannot be recognised and matches nothing.
 */
export function shapedBy(resource: Pick<PromptTemplateResource, "template" | "engine">): (call: CallText) => boolean {
  const pieces = literalPieces(resource);
  if (!pieces.some((p) => p.length >= MIN_PIECE)) return () => false;
  return (call) =>
    call.messages.some((message) => containsInOrder(textOf(message), pieces)) ||
    offeredTools(call.tools).some((tool) => tool.description !== undefined && containsInOrder(tool.description, pieces));
}

function textOf(message: ChatMessage): string {
  if (typeof message.content === "string") return message.content;
  if (!Array.isArray(message.content)) return "";
  return message.content.map((part) => (typeof part === "object" && part !== null && "text" in part && typeof part.text === "string" ? part.text : "")).join("\n");
}

/** The prompt templates among `resources`, by name, leaving out the run's own bookkeeping resources. */
export function promptTemplates(resources: ResourcesMap, reserved: readonly string[]): string[] {
  return Object.keys(resources).filter((name) => !reserved.includes(name) && resources[name]!.kind === "prompt_template");
}

/** Which agents' calls a component shaped. */
export interface ComponentUse {
  component: string;
  /** The names of the agents whose calls it shaped, sorted. */
  agents: string[];
  /** Calls it shaped that ran under no agent name. */
  unnamedCalls: number;
}

/** The components to evolve for an agent selection, and why each of the others stays fixed (GEPA's result reports both). */
export interface ComponentSelection {
  evolved: string[];
  fixed: Array<{ name: string; why: string }>;
}

/**
 * Splits components by the agents that used them: with `agents` (exact names or a RegExp, as the
 * adapters select), a component is evolved when it shaped a call of a selected agent; one used
 * only by other agents, or only by calls without an agent name, stays fixed. A component that
 * shaped no call stays fixed in any case: no run says anything about it.
 */
export function selectComponents(uses: readonly ComponentUse[], agents?: readonly string[] | RegExp): ComponentSelection {
  const selected = agentMatcher(agents);
  const out: ComponentSelection = { evolved: [], fixed: [] };
  for (const use of uses) {
    const why = fixedBecause(use, selected);
    if (why === undefined) out.evolved.push(use.component);
    else out.fixed.push({ name: use.component, why });
  }
  return out;
}

function fixedBecause(use: ComponentUse, selected: ((name: string) => boolean) | undefined): string | undefined {
  if (use.agents.length === 0 && use.unnamedCalls === 0) return "never seen in the agent's LLM calls";
  if (selected === undefined || use.agents.some(selected)) return undefined;
  if (use.agents.length === 0) return "used only by calls without an agent name, and agents are selected";
  return `used only by agent${use.agents.length > 1 ? "s" : ""} ${use.agents.join(", ")}, not selected`;
}

/**
 * The component the evaluator's feedback names — by its resource name, as a whole word (case
 * aside) — or `undefined` when it names none. When it names several, the one named most often;
 * a tie between the most named is `undefined`: the feedback does not single one out.
 */
export function blamedComponent(feedbackTexts: readonly string[], components: readonly string[]): string | undefined {
  const counts = components.map((name) => ({ name, count: feedbackTexts.reduce((sum, text) => sum + mentions(text, name), 0) }));
  const most = Math.max(0, ...counts.map((c) => c.count));
  const top = counts.filter((c) => c.count === most);
  return most > 0 && top.length === 1 ? top[0]!.name : undefined;
}

/** How often `name` occurs in `text` not as part of a longer word (`request` is not in `requested` or `request_v2`). */
function mentions(text: string, name: string): number {
  if (name.length === 0) return 0;
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return [...text.matchAll(new RegExp(`(?<![\\w-])${escaped}(?![\\w-])`, "gi"))].length;
}

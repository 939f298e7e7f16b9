/**
 * What the reference policy can write after a prompt, and where it chooses. A response is either
 * an answer — one of the backend's actions, a phrase of one or more tokens — or one Hermes-style
 * tool call `<tool_call>{"name": …, "arguments": {"<parameter>": …}}</tool_call>`. The policy
 * chooses at *choice points*: answer or tool call (when `tool_choice` is "auto"), which action,
 * which of the offered tools, which value of the tool's parameter (its JSON-schema `enum`, else the
 * actions). Every other token is forced (probability 1). A choice's logprob is carried by the first
 * token of what it chose, so the per-token logprobs add up to the response's.
 *
 * Everything here is computed from token ids alone — the offered tools and the tool choice are in
 * the prompt's tools block — so the backend finds, at training time, exactly the choice points and
 * candidates the sampler had.
 */
import { z } from "zod";
import { type ContextMessage, TOOL_CALL_OPEN, readToolsBlock, splitMessages, tokenText, tokenize, toolCallSegments } from "./chat-template.js";
import { CONSTANT, type ChoicePoint, type Term, combine, hashString } from "./policy.js";

/** A candidate at a choice point: its key, its token ids, and the words that mention it. */
interface Candidate {
  key: string;
  ids: readonly number[];
  words: string;
}

/** One of the backend's answers. */
export interface Action {
  text: string;
  ids: readonly number[];
}

interface ToolSpec {
  name: string;
  candidate: Candidate;
  /** The parameter the policy fills (the first required one, else the first declared one). */
  parameter: string | undefined;
  values: Array<Candidate & { value: unknown }>;
}

type Kind = "tool" | "answer";

/** What a prompt allows and the features the policy reads from it. */
export interface Context {
  tools: ToolSpec[];
  kinds: Kind[];
  /** The tool `tool_choice` names, when it names one. */
  forcedTool: number | undefined;
  /**
   * The turn: the role of the last finished message. Every parameter of a choice is conjoined with
   * it, so "call a tool after the user asked" and "after a tool answered" are separate decisions
   * that do not leak into each other.
   */
  turn: string;
  /** The word features (valued by their IDF). */
  features: readonly number[];
  /** Messages whose mentions the copy pointer reads: the last finished message, and the user's request. */
  sources: ReadonlyArray<{ role: string; words: string }>;
}

/** A choice made while writing a response: at response position `at`. */
export interface PlacedChoice {
  at: number;
  point: ChoicePoint;
  chosen: number;
}

/** A response written by the grammar. */
export interface Walk {
  ids: number[];
  choices: PlacedChoice[];
  answer?: string;
  toolCall?: { name: string; arguments: string };
}

/**
 * Picks a candidate: the sampler draws one; the parser finds the one the recorded response holds.
 * `follow` are the ids right after the choice (null: the response ends there; undefined: anything).
 */
export type Chooser = (point: ChoicePoint, candidateIds: ReadonlyArray<readonly number[]>, follow: readonly number[] | null | undefined, at: number) => number;

const ToolSchema = z.looseObject({
  type: z.literal("function"),
  function: z.looseObject({ name: z.string().min(1), parameters: z.record(z.string(), z.unknown()).optional() }),
});
const ToolChoiceSchema = z.union([z.enum(["none", "auto", "required"]), z.looseObject({ type: z.literal("function"), function: z.looseObject({ name: z.string().min(1) }) })]);

// Token ids of the fixed pieces, computed on first use: importing tracetrain must not load the tokenizer.
let fixedIds: { open: number[]; arguments: number[]; kinds: Candidate[] } | undefined;
function fixed(): { open: number[]; arguments: number[]; kinds: Candidate[] } {
  if (fixedIds === undefined) {
    const open = tokenize(TOOL_CALL_OPEN);
    fixedIds = {
      open,
      arguments: tokenize(', "arguments": {'),
      kinds: [
        { key: "tool", ids: open, words: "" },
        { key: "answer", ids: [], words: "" },
      ],
    };
  }
  return fixedIds;
}
const BIAS = hashString("bias");

/** The hashed-feature grammar of one backend: its answers and its parameter space. */
export class Grammar {
  private readonly answers: Candidate[];

  constructor(
    readonly actions: readonly Action[],
    readonly size: number,
  ) {
    this.answers = actions.map((a) => ({ key: a.text, ids: a.ids, words: words(a.text) }));
  }

  /** The context of a response that starts after `promptIds`. */
  context(promptIds: readonly number[]): Context {
    const messages = splitMessages(promptIds);
    const { tools, toolChoice } = toolsOf(messages);
    const specs = tools.map((t) => this.toolSpec(t));
    const forcedName = typeof toolChoice === "object" ? toolChoice.function.name : undefined;
    const forced = forcedName === undefined ? undefined : specs.findIndex((s) => s.name === forcedName);
    const kinds: Kind[] = specs.length === 0 || toolChoice === "none" ? ["answer"] : toolChoice === "auto" ? ["tool", "answer"] : ["tool"];
    return { tools: specs, kinds, forcedTool: forced === -1 ? undefined : forced, ...readFeatures(messages) };
  }

  /** Writes one response, asking `choose` at every choice point. Throws a {@link GrammarMismatch} when the chooser finds no candidate. */
  walk(context: Context, choose: Chooser): Walk {
    const ids: number[] = [];
    const choices: PlacedChoice[] = [];
    const pick = (slot: string, kind: string, candidates: readonly Candidate[], follow: readonly number[] | null | undefined): number => {
      if (candidates.length === 1) return 0;
      const point = this.point(context, slot, kind, candidates);
      const chosen = choose(point, candidates.map((c) => c.ids), follow, ids.length);
      choices.push({ at: ids.length, point, chosen });
      return chosen;
    };
    const kind = context.kinds[pick("kind", "kind", fixed().kinds.filter((c) => context.kinds.includes(c.key as Kind)), undefined)]!;
    if (kind === "answer") {
      if (this.answers.length === 0) throw new GrammarMismatch("the backend has no answers");
      const chosen = this.answers[pick("answer", "answer", this.answers, null)]!;
      ids.push(...chosen.ids);
      return { ids, choices, answer: chosen.key };
    }
    if (context.forcedTool === undefined && context.tools.length === 0) throw new GrammarMismatch("no tool is offered");
    ids.push(...fixed().open);
    const tool = context.tools[context.forcedTool ?? pick("tool", "tool", context.tools.map((t) => t.candidate), fixed().arguments)]!;
    ids.push(...tool.candidate.ids);
    let value: unknown;
    const placeholder = tool.parameter === undefined ? "{}" : JSON.stringify({ [tool.parameter]: null });
    const segments = toolCallSegments(tool.name, placeholder).slice(2);
    segments.forEach((segment, i) => {
      if (segment.slot !== "value") return ids.push(...tokenize(segment.text));
      if (tool.values.length === 0) throw new GrammarMismatch(`the tool '${tool.name}' has no values to give '${tool.parameter ?? ""}'`);
      const chosen = tool.values[pick(`arg:${tool.name}.${tool.parameter ?? ""}`, "arg", tool.values, tokenize(segments[i + 1]!.text))]!;
      value = chosen.value;
      return ids.push(...chosen.ids);
    });
    const args = tool.parameter === undefined ? "{}" : JSON.stringify({ [tool.parameter]: value });
    return { ids, choices, toolCall: { name: tool.name, arguments: args } };
  }

  /** The choice points of a recorded response (one run of generated tokens after `promptIds`), or why it is not one this policy writes. */
  parse(promptIds: readonly number[], response: readonly number[]): { walk: Walk; context: Context } | { problem: string } {
    const context = this.context(promptIds);
    try {
      const walk = this.walk(context, (_point, candidates, follow, at) => {
        const found = candidates.findIndex((ids) => startsWith(response, at, ids) && followsAt(response, at + ids.length, follow));
        if (found === -1) throw new GrammarMismatch(`no candidate of the choice at response position ${at} matches`);
        return found;
      });
      if (walk.ids.length !== response.length || walk.ids.some((id, i) => id !== response[i])) {
        return { problem: `differs from what the reference policy writes after this prompt at position ${walk.ids.findIndex((id, i) => id !== response[i])}` };
      }
      return { walk, context };
    } catch (error) {
      if (error instanceof GrammarMismatch) return { problem: error.message };
      throw error;
    }
  }

  private point(context: Context, slot: string, kind: string, candidates: readonly Candidate[]): ChoicePoint {
    const terms = candidates.map((c): Term[] => {
      const h = hashString(`${slot}\u0000${context.turn}\u0000${c.key}`);
      const out: Term[] = [{ index: combine(BIAS, h, this.size), feature: CONSTANT }];
      for (const f of context.features) out.push({ index: combine(f, h, this.size), feature: f });
      if (c.words !== "") {
        for (const source of context.sources) {
          if (` ${source.words} `.includes(` ${c.words} `)) out.push({ index: combine(hashString(`copy\u0000${kind}\u0000${source.role}\u0000${shape(c.words)}`), 0, this.size), feature: CONSTANT });
        }
      }
      return out;
    });
    return { slot, keys: candidates.map((c) => c.key), terms, words: context.features };
  }

  private toolSpec(tool: z.infer<typeof ToolSchema>): ToolSpec {
    const name = tool.function.name;
    const parameters = tool.function.parameters ?? {};
    const properties = isRecord(parameters.properties) ? parameters.properties : {};
    const required = Array.isArray(parameters.required) ? parameters.required.filter((r): r is string => typeof r === "string") : [];
    const parameter = required[0] ?? Object.keys(properties)[0];
    const schema = parameter === undefined ? undefined : properties[parameter];
    const values = isRecord(schema) && Array.isArray(schema.enum) ? schema.enum.filter((v) => v !== undefined) : this.actionValues(schema);
    const candidate = (value: unknown) => {
      const text = JSON.stringify(value);
      return { key: text, ids: tokenize(text), words: words(typeof value === "string" ? value : text), value };
    };
    return { name, candidate: { key: name, ids: tokenize(JSON.stringify(name)), words: words(name) }, parameter, values: parameter === undefined ? [] : dedupe(values.map(candidate)) };
  }

  /**
   * The actions as values of a parameter, as its schema's type allows (guided decoding): numbers
   * for a number or integer parameter (the actions that are numbers), strings for a string one;
   * without a usable type, every action (as a number when it is one).
   */
  private actionValues(schema: unknown): unknown[] {
    const declared = isRecord(schema) ? schema.type : undefined;
    const types = (Array.isArray(declared) ? declared : [declared]).filter((t): t is string => typeof t === "string");
    const asNumber = (text: string) => (text.trim() === "" ? Number.NaN : Number(text));
    const values = this.actions.flatMap((a): unknown[] => {
      const n = asNumber(a.text);
      if (types.includes("integer") && Number.isInteger(n)) return [n];
      if (types.includes("number") && Number.isFinite(n)) return [n];
      if (types.includes("string")) return [a.text];
      return [];
    });
    if (values.length > 0) return values;
    return this.actions.map((a) => (Number.isFinite(asNumber(a.text)) ? asNumber(a.text) : a.text));
  }
}

/** The recorded response is not one the policy writes after its prompt. */
export class GrammarMismatch extends Error {}

/** The offered tools and the tool choice, from the tools block that leads the prompt. */
function toolsOf(messages: readonly ContextMessage[]): { tools: Array<z.infer<typeof ToolSchema>>; toolChoice: z.infer<typeof ToolChoiceSchema> } {
  const block = messages[0]?.role === "tools" ? readToolsBlock(messages[0].text) : undefined;
  const tools = z.array(ToolSchema).safeParse(block?.tools);
  const choice = ToolChoiceSchema.safeParse(block?.toolChoice);
  return { tools: tools.success ? tools.data : [], toolChoice: choice.success ? choice.data : "auto" };
}

/**
 * The context's features: the turn (role of the last finished message), and each distinct token of
 * the user's last request, and of the last finished message when that is another one (a tool
 * result) conjoined with its role. Word features are not divided by the message's length: each is
 * valued by its IDF, so one informative word of a sentence counts as much as in a one-word message
 * and the words every context shares count for nothing. Token texts are compared trimmed and
 * lower-cased, so " Paris" and "paris" are one feature.
 */
function readFeatures(messages: readonly ContextMessage[]): Pick<Context, "turn" | "features" | "sources"> {
  const previous = messages.findLast((m) => m.closed && m.role !== "tools");
  const user = messages.findLast((m) => m.closed && m.role === "user");
  const keys = new Set<string>();
  for (const token of user?.tokens ?? []) keys.add(`user\u0000${normalize(tokenText(token))}`);
  if (previous !== undefined && previous !== user) for (const token of previous.tokens) keys.add(`last\u0000${previous.role}\u0000${normalize(tokenText(token))}`);
  const sources = [previous, user].filter((m, i, all): m is ContextMessage => m !== undefined && all.indexOf(m) === i).map((m) => ({ role: m.role, words: words(m.text) }));
  return { turn: previous?.role ?? "", features: [...new Set([...keys].map(hashString))], sources };
}

/** Numbers and words are copied by separate pointers: "repeat the number the user gave" and "repeat the word the tool said" are different habits. */
function shape(words: string): string {
  return /^[\d ]+$/.test(words) ? "number" : "text";
}

function normalize(text: string): string {
  return text.trim().toLowerCase();
}

/** Lower-cased words separated by single spaces: mentions are whole-word matches on this. */
function words(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^\p{L}\p{N}_]+/gu, " ")
    .trim();
}

function startsWith(ids: readonly number[], at: number, prefix: readonly number[]): boolean {
  return prefix.every((id, i) => ids[at + i] === id);
}

function followsAt(ids: readonly number[], at: number, follow: readonly number[] | null | undefined): boolean {
  if (follow === undefined) return true;
  if (follow === null) return at === ids.length;
  return startsWith(ids, at, follow);
}

function dedupe<T extends { key: string }>(candidates: T[]): T[] {
  return candidates.filter((c, i) => candidates.findIndex((d) => d.key === c.key) === i);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

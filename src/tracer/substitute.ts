/**
 * In-flight substitution of prompt texts in an outgoing LLM request (see `tracetrain.substitutions`
 * in src/types): a system or developer message, a Responses `instructions`, an Anthropic `system`,
 * or a tool's description whose text equals a seed text (trimmed) is replaced by the candidate's
 * text. A seed with placeholders matches as a pattern, each placeholder standing for any text, and
 * the candidate's placeholders are filled with what they matched. Used by the tracer's
 * instrumentations and by the gateway, so both substitute alike.
 *
 * Only whole texts are matched: a message that holds the seed text among other text is left as it
 * is, and so is a user message (the agent's input, which the seed would have to match exactly).
 */
import { PromptTemplate, type Substitution } from "../types/index.js";

type Rec = Record<string, unknown>;

/** One substitution made ready to match: the replacement for a text, or undefined when it does not match. */
interface Matcher {
  component: string;
  replace(text: string): string | undefined;
}

/** The substitutions of one rollout, compiled once and applied to each of its requests. */
export class Substituter {
  private readonly matchers: readonly Matcher[];

  constructor(readonly substitutions: readonly Substitution[]) {
    this.matchers = substitutions.flatMap((s) => {
      const matcher = compile(s);
      return matcher ? [matcher] : [];
    });
  }

  /** The candidate's text for `text`, with the component it belongs to, if `text` is a seed text. */
  replaceText(text: string): { text: string; component: string } | undefined {
    for (const matcher of this.matchers) {
      const replaced = matcher.replace(text);
      if (replaced !== undefined) return { text: replaced, component: matcher.component };
    }
    return undefined;
  }

  /**
   * `body` with every seed text replaced, as a copy (the caller's objects are never changed), and
   * the components substituted; undefined when nothing matched.
   */
  substituteBody(body: unknown): { body: Rec; substituted: string[] } | undefined {
    if (!isRecord(body) || this.matchers.length === 0) return undefined;
    const used = new Set<string>();
    const text = (value: unknown): string | undefined => {
      if (typeof value !== "string") return undefined;
      const replaced = this.replaceText(value);
      if (replaced === undefined) return undefined;
      used.add(replaced.component);
      return replaced.text;
    };
    const changes: Rec = {};
    const messages = mapItems(body.messages, (message) => (isInstruction(message) ? withContent(message, text) : undefined));
    if (messages) changes.messages = messages;
    const input = mapItems(body.input, (item) => (isInstruction(item) ? withContent(item, text) : undefined));
    if (input) changes.input = input;
    const instructions = text(body.instructions);
    if (instructions !== undefined) changes.instructions = instructions;
    const system = typeof body.system === "string" ? text(body.system) : mapItems(body.system, (part) => textPart(part, text));
    if (system !== undefined) changes.system = system;
    const tools = mapItems(body.tools, (tool) => toolWith(tool, text));
    if (tools) changes.tools = tools;
    return used.size === 0 ? undefined : { body: { ...body, ...changes }, substituted: [...used] };
  }
}

const INSTRUCTION_ROLES = new Set(["system", "developer"]);

function isInstruction(message: unknown): message is Rec {
  return isRecord(message) && typeof message.role === "string" && INSTRUCTION_ROLES.has(message.role);
}

/** A message with its string content, or its text parts (`text`, `input_text`), replaced. */
function withContent(message: Rec, text: (value: unknown) => string | undefined): Rec | undefined {
  if (typeof message.content === "string") {
    const replaced = text(message.content);
    return replaced === undefined ? undefined : { ...message, content: replaced };
  }
  const parts = mapItems(message.content, (part) => textPart(part, text));
  return parts === undefined ? undefined : { ...message, content: parts };
}

function textPart(part: unknown, text: (value: unknown) => string | undefined): Rec | undefined {
  if (!isRecord(part) || (part.type !== "text" && part.type !== "input_text")) return undefined;
  const replaced = text(part.text);
  return replaced === undefined ? undefined : { ...part, text: replaced };
}

/** A tool with its description replaced: chat's `{function: {description}}`, or Responses' and Anthropic's `{description}`. */
function toolWith(tool: unknown, text: (value: unknown) => string | undefined): Rec | undefined {
  if (!isRecord(tool)) return undefined;
  if (isRecord(tool.function)) {
    const replaced = text(tool.function.description);
    return replaced === undefined ? undefined : { ...tool, function: { ...tool.function, description: replaced } };
  }
  const replaced = text(tool.description);
  return replaced === undefined ? undefined : { ...tool, description: replaced };
}

/** A copy of `items` with the items `change` returns a replacement for, or undefined when none changed (or it is no array). */
function mapItems(items: unknown, change: (item: unknown) => Rec | undefined): unknown[] | undefined {
  if (!Array.isArray(items)) return undefined;
  let copy: unknown[] | undefined;
  items.forEach((item, index) => {
    const replaced = change(item);
    if (replaced === undefined) return;
    copy ??= [...items];
    copy[index] = replaced;
  });
  return copy;
}

/**
 * The matcher of one substitution: the seed's formatted texts as a pattern (for a seed without
 * placeholders, its one text) — unless the candidate uses a placeholder the seed has not, whose
 * value the request cannot tell: then nothing is substituted for it, and coverage shows it.
 */
function compile(substitution: Substitution): Matcher | undefined {
  const seed = new PromptTemplate(substitution.seed, substitution.engine);
  const candidate = new PromptTemplate(substitution.text, substitution.engine);
  const seedVariables = seed.variables();
  if (candidate.variables().some((name) => !seedVariables.includes(name)) || hasNestedConflict(seedVariables)) return undefined;
  const pattern = patternOf(seed);
  return {
    component: substitution.component,
    replace(text) {
      const values = matchPattern(pattern, text.trim());
      return values === undefined ? undefined : candidate.format(values);
    },
  };
}

/** A template as alternating literal text and placeholders: `literals[i]`, `variables[i]`, `literals[i + 1]`, … */
interface Pattern {
  literals: string[];
  variables: string[];
}

/** The seed's pieces, trimmed at both ends like the texts they are matched against. */
function patternOf(template: PromptTemplate): Pattern {
  const literals = [""];
  const variables: string[] = [];
  for (const segment of template.segments()) {
    if ("literal" in segment) literals[literals.length - 1] += segment.literal;
    else {
      variables.push(segment.variable);
      literals.push("");
    }
  }
  literals[0] = literals[0]!.trimStart();
  literals[literals.length - 1] = literals.at(-1)!.trimEnd();
  return { literals, variables };
}

/**
 * What each placeholder matched in `text`, or undefined when it does not match. Each placeholder
 * takes the shortest text up to the next literal piece (the last piece must end the text), found
 * with `indexOf` — linear in the text, where a regular expression could backtrack for long on a
 * text that almost matches. A placeholder used twice must match the same text both times.
 */
function matchPattern({ literals, variables }: Pattern, text: string): Rec | undefined {
  const first = literals[0]!;
  const last = literals.at(-1)!;
  if (!text.startsWith(first)) return undefined;
  if (variables.length === 0) return text.length === first.length ? {} : undefined;
  const end = text.length - last.length;
  if (end < first.length || !text.endsWith(last)) return undefined;
  const values: Rec = {};
  const seen = new Map<string, string>();
  let at = first.length;
  for (let i = 0; i < variables.length; i++) {
    const next = i + 1 < variables.length ? text.indexOf(literals[i + 1]!, at) : end;
    // The last piece must start where the others end: a middle piece running into it is no match.
    if (next < at) return undefined;
    const value = text.slice(at, next);
    const name = variables[i]!;
    if (seen.has(name) && seen.get(name) !== value) return undefined;
    seen.set(name, value);
    setPath(values, name, value);
    at = next + (i + 1 < variables.length ? literals[i + 1]!.length : 0);
  }
  return values;
}

/** `a` and `a.b` both used: one value cannot be both a text and an object. */
function hasNestedConflict(names: readonly string[]): boolean {
  return names.some((name) => names.some((other) => other.startsWith(`${name}.`)));
}

function setPath(target: Rec, path: string, value: string): void {
  const keys = path.split(".");
  let at = target;
  for (const key of keys.slice(0, -1)) {
    const next = isRecord(at[key]) ? (at[key] as Rec) : {};
    at[key] = next;
    at = next;
  }
  at[keys.at(-1)!] = value;
}

function isRecord(value: unknown): value is Rec {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

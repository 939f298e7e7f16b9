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
  const component = substitution.component;
  if (candidate.variables().some((name) => !seedVariables.includes(name)) || hasNestedConflict(seedVariables)) return undefined;
  const pattern = patternOf(seed);
  return {
    component,
    replace(text) {
      const match = pattern.exec(text.trim());
      if (!match) return undefined;
      const values: Rec = {};
      seedVariables.forEach((name, index) => setPath(values, name, match[index + 1] ?? ""));
      return candidate.format(values);
    },
  };
}

/**
 * The seed's formatted texts as a regular expression: literal text as is, a placeholder's first
 * appearance as a lazy group, a repeated one as a back-reference (the same value both times).
 */
function patternOf(template: PromptTemplate): RegExp {
  const order = template.variables();
  const seen = new Set<string>();
  const segments = template.segments();
  // Trimmed like the text it is matched against.
  const source = segments
    .map((segment, index) => {
      if ("literal" in segment) {
        const literal = index === 0 ? segment.literal.trimStart() : index === segments.length - 1 ? segment.literal.trimEnd() : segment.literal;
        return escapeRegExp(literal);
      }
      if (seen.has(segment.variable)) return `\\${order.indexOf(segment.variable) + 1}`;
      seen.add(segment.variable);
      return "([\\s\\S]*?)";
    })
    .join("");
  return new RegExp(`^${source}$`);
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

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function isRecord(value: unknown): value is Rec {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

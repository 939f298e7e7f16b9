/**
 * Which resources a run evolves, and which LLM calls each one shaped. A prompt template shapes a
 * call when its fixed text — everything but its placeholders — appears, in order, in one of the
 * call's messages: that finds a system prompt and a filled-in request template alike, without
 * the agent having to say which template it read.
 */
import type { ChatMessage, PromptTemplateResource, ResourcesMap } from "../../types/index.js";

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

/**
 * A test for the calls `resource` shaped: one of the call's messages holds its fixed text in order.
 * A template that is all placeholders (or only short fixed bits) cannot be recognised and matches nothing.
 */
export function shapedBy(resource: Pick<PromptTemplateResource, "template" | "engine">): (messages: readonly ChatMessage[]) => boolean {
  const pieces = literalPieces(resource);
  if (!pieces.some((p) => p.length >= MIN_PIECE)) return () => false;
  return (messages) => messages.some((message) => containsInOrder(textOf(message), pieces));
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

/**
 * Helpers for writing a simulated model (a {@link Responder}): the text of a chat request's
 * messages, and a stable hash to derive reproducible "random" choices from a request.
 */

/** A chat message of a request, reduced to its role and text (text parts joined by newlines). */
export interface RequestMessage {
  role: string;
  text: string;
}

/** The messages of a chat-completions request body as role and text; an absent or malformed list gives []. */
export function requestMessages(body: Record<string, unknown>): RequestMessage[] {
  const raw = Array.isArray(body.messages) ? (body.messages as unknown[]) : [];
  return raw.flatMap((message) => {
    if (typeof message !== "object" || message === null) return [];
    const { role, content } = message as { role?: unknown; content?: unknown };
    return [{ role: String(role), text: contentText(content) }];
  });
}

function contentText(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content.map((part) => (typeof part === "object" && part !== null && typeof (part as { text?: unknown }).text === "string" ? (part as { text: string }).text : "")).join("\n");
}

/** FNV-1a, 32 bits: the same text always gives the same number, on every platform. */
export function stableHash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

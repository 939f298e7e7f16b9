/**
 * LLM calls as chat: each call's prompt (system, user, assistant and tool messages, tool calls
 * with their arguments) and its response, with the results of the tools it asked for. The server
 * reads them from the spans with the adapters (the chat-view route), as training would.
 */
import { type Child, h } from "./dom.js";
import { contentText } from "./format.js";
import type { ChatCall, ChatMessage, ChatView } from "./records.js";

export function chatView(view: ChatView): Child {
  if (view.calls.length === 0) return h("p", { class: "empty" }, "No LLM call in this attempt.");
  return h("div", { class: "chat" }, ...view.calls.map((call, i) => callView(call, i + 1)));
}

function callView(call: ChatCall, n: number): HTMLElement {
  const title = [`Call ${n}`, call.agentName, call.model].filter(Boolean).join(" · ");
  return h(
    "article",
    { "data-call-id": call.callId, "aria-label": title },
    h("h3", {}, title, call.selected ? "" : ` (not training data: ${call.exclusion ?? "excluded"})`),
    ...call.prompt.map((m) => message(m, false)),
    ...call.responses.map((r) => (r.message === null ? h("p", { class: "empty" }, "No response message recorded.") : message(r.message, true, r.finishReason))),
    ...call.toolUses.filter((use) => use.result !== undefined).map((use) => h("div", { class: "msg msg-tool tool-result" }, h("div", { class: "role" }, `tool result · ${use.name}`), h("pre", {}, contentText(use.result)))),
    ...call.problems.map((p) => h("p", { class: "error" }, p)),
  );
}

function message(m: ChatMessage, response: boolean, finishReason?: string | null): HTMLElement {
  const role = [m.role, m.name, response ? "response" : undefined, finishReason ? `finish: ${finishReason}` : undefined].filter(Boolean).join(" · ");
  const text = contentText(m.content);
  return h(
    "div",
    { class: `msg msg-${m.role}${response ? " response" : ""}`, "data-role": m.role },
    h("div", { class: "role" }, role),
    text === "" ? null : h("pre", {}, text),
    ...(m.tool_calls ?? []).map(toolCall),
  );
}

function toolCall(call: unknown): HTMLElement {
  const fn = (call as { function?: { name?: unknown; arguments?: unknown } }).function;
  const args = typeof fn?.arguments === "string" ? pretty(fn.arguments) : JSON.stringify(fn?.arguments ?? call, null, 2);
  return h("div", { class: "tool-call" }, h("span", { class: "role" }, "tool call "), h("code", { class: "tool-name" }, String(fn?.name ?? "?")), h("pre", {}, args));
}

/** JSON arguments indented; anything else as written. */
function pretty(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

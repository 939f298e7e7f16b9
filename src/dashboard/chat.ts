/**
 * LLM calls as chat: each call's prompt (system, user, assistant and tool messages, tool calls
 * with their arguments) and its response, with the results of the tools it asked for; a badge
 * saying whether it became training data (and why not), which capture layers recorded it, and —
 * when asked — its exact token ids and logprobs. The server reads them from the spans with the
 * adapters (the chat-view route), as training would.
 */
import { type Child, h, show } from "./dom.js";
import { contentText, reward } from "./format.js";
import type { ChatCall, ChatMessage, ChatView } from "./records.js";

/** Calls drawn at first, and per "show more": an attempt can hold thousands. */
const BATCH = 50;

export interface ChatOptions {
  /** Calls of these agents are marked. */
  selectedAgents: ReadonlySet<string>;
  /** Whether the token switch starts on (the page keeps it across live redraws). */
  showTokens: boolean;
  onShowTokens: (on: boolean) => void;
}

export function chatView(view: ChatView, options: ChatOptions): Child {
  if (view.calls.length === 0) return h("p", { class: "empty" }, "No LLM call in this attempt.");
  const list = h("div", { class: "chat" });
  const toggle = h("input", { type: "checkbox", id: "token-toggle", checked: options.showTokens });
  let shown = 0;
  const more = h("button", { type: "button", class: "more" });
  const render = () => {
    const tokens = toggle.checked;
    show(list, ...view.calls.slice(0, shown).map((call, i) => callView(call, i + 1, tokens, options)));
    more.hidden = shown >= view.calls.length;
    more.textContent = `Show ${Math.min(BATCH, view.calls.length - shown)} more of ${view.calls.length - shown} remaining calls`;
  };
  more.addEventListener("click", () => {
    shown = Math.min(view.calls.length, shown + BATCH);
    render();
  });
  toggle.addEventListener("change", () => {
    options.onShowTokens(toggle.checked);
    render();
  });
  shown = Math.min(BATCH, view.calls.length);
  render();
  return h("div", {}, h("label", { class: "switch" }, toggle, " Show token ids and logprobs"), list, more);
}

function callView(call: ChatCall, n: number, tokens: boolean, options: ChatOptions): HTMLElement {
  const title = [`Call ${n}`, call.agentName, call.model].filter(Boolean).join(" · ");
  const selectedAgent = call.agentName !== null && options.selectedAgents.has(call.agentName);
  return h(
    "article",
    { "data-call-id": call.callId, "aria-label": title, class: selectedAgent ? "agent-selected" : undefined },
    h("h3", {}, title),
    h("p", { class: "badges" }, ...badges(call)),
    ...call.prompt.map((m) => message(m, false)),
    ...call.responses.map((r) => (r.message === null ? h("p", { class: "empty" }, "No response message recorded.") : message(r.message, true, r.finishReason))),
    ...call.toolUses.filter((use) => use.result !== undefined).map((use) => h("div", { class: "msg msg-tool tool-result" }, h("div", { class: "role" }, `tool result · ${use.name}`), h("pre", {}, contentText(use.result)))),
    tokens ? tokenView(call) : null,
    ...call.problems.map((p) => h("p", { class: "error" }, p)),
  );
}

function badges(call: ChatCall): HTMLElement[] {
  const list = [
    call.selected
      ? h("span", { class: "badge badge-selected" }, "training data")
      : h("span", { class: "badge badge-dropped" }, `not training data: ${(call.exclusion ?? "excluded").replaceAll("_", " ")}`),
  ];
  if (call.reward !== null) list.push(h("span", { class: "badge" }, `credit ${reward(call.reward)}`));
  const merged = call.mergedSpanIds.length > 0 ? ` (${call.mergedSpanIds.length + 1} records merged)` : "";
  list.push(h("span", { class: "badge badge-layers" }, `recorded by ${call.layers.join(", ")}${merged}`));
  return list;
}

/** The exact tokens the engine returned, or a plain statement that there are none. */
function tokenView(call: ChatCall): HTMLElement {
  const withIds = call.responses.filter((r) => r.tokenIds !== null);
  if (call.promptTokenIds === null || withIds.length === 0) {
    return h("p", { class: "tokens text-only" }, "Text only: not trainable by RL — this call recorded no token ids.");
  }
  return h(
    "div",
    { class: "tokens" },
    h("div", { class: "role" }, `prompt token ids (${call.promptTokenIds.length})`),
    h("pre", { class: "prompt-token-ids" }, call.promptTokenIds.join(" ")),
    ...call.responses.map((r, i) =>
      r.tokenIds === null
        ? h("p", { class: "text-only" }, `Response ${i + 1}: no token ids recorded.`)
        : h(
            "div",
            {},
            h("div", { class: "role" }, `response ${call.responses.length > 1 ? `${i + 1} ` : ""}token ids (${r.tokenIds.length})${r.logprobs === null ? " · no logprobs" : " and logprobs"}`),
            h("pre", { class: "response-token-ids" }, r.tokenIds.join(" ")),
            r.logprobs === null ? null : logprobTable(r.tokenIds, r.logprobs),
          ),
    ),
  );
}

function logprobTable(ids: readonly number[], logprobs: readonly number[]): HTMLElement {
  return h(
    "table",
    { class: "logprobs" },
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "#"), h("th", { scope: "col" }, "token id"), h("th", { scope: "col" }, "logprob"))),
    h("tbody", {}, ...ids.map((id, i) => h("tr", {}, h("td", { class: "num" }, i + 1), h("td", { class: "num mono" }, id), h("td", { class: "num mono" }, logprobs[i] === undefined ? "—" : logprobs[i]!.toFixed(4))))),
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

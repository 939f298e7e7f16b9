/**
 * The trace page's report sections: which agents are selected (and a control to change that),
 * what the adapters made of the attempt under that selection, which capture layer saw what, and
 * one span opened whole.
 */
import { type Child, h } from "./dom.js";
import { duration, time } from "./format.js";
import type { CaptureCoverage, ChatView, Span, TraceDiagnostics } from "./records.js";

/** Items listed before "… and N more": a huge attempt must not make a huge list. */
const LIST_MAX = 100;

/** A checkbox per agent present; `onChange` gets the agents checked (none: every agent). */
export function agentPicker(view: ChatView, selected: ReadonlySet<string>, onChange: (agents: string[]) => void): Child {
  if (view.agents.length === 0) return h("p", { class: "empty" }, "No agent name was recorded in this attempt: every call counts as one agent's.");
  const boxes = view.agents.map((agent) => {
    const box = h("input", { type: "checkbox", value: agent, checked: selected.has(agent) });
    box.addEventListener("change", () => onChange(boxes.filter((b) => b.checked).map((b) => b.value)));
    return box;
  });
  return h(
    "fieldset",
    { id: "agents", class: "agents" },
    h("legend", {}, "Selected agents"),
    ...boxes.map((box) => h("label", { class: "agent" }, box, ` ${box.value}`)),
    h("p", { class: "hint" }, selected.size === 0 ? "None selected: every agent's calls are training data." : `Only ${[...selected].join(", ")}'s calls are training data; their calls and spans are marked.`),
  );
}

export function diagnosticsView(d: TraceDiagnostics): Child {
  return h(
    "div",
    {},
    h("p", { id: "diagnostics-summary", class: "summary" }, d.summary),
    h("p", { class: "empty" }, `Credit policy ${d.creditPolicy} · final reward ${d.finalReward ?? "none"} · ${d.callsWithTokenIds} selected call(s) with token ids`),
    listOf("Left out", d.dropped.map((x) => h("li", { "data-reason": x.reason }, h("code", {}, x.reason), ` span ${x.spanId}: ${x.detail}`)), "dropped"),
    listOf("Warnings", d.warnings.map((w) => h("li", {}, w)), "warnings"),
  );
}

export function coverageView(c: CaptureCoverage): Child {
  return h(
    "div",
    {},
    h(
      "table",
      { id: "coverage" },
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Capture layer"), h("th", { scope: "col" }, "Spans"), h("th", { scope: "col" }, "LLM calls seen"))),
      h("tbody", {}, ...c.layers.map((l) => h("tr", { "data-layer": l.layer }, h("td", { class: "mono" }, l.layer), h("td", { class: "num" }, l.spans), h("td", { class: "num" }, l.calls)))),
    ),
    h("p", { class: "empty" }, c.merged === 0 ? "No call was recorded twice." : `${c.merged} record(s) of calls another layer also recorded were merged into one call each.`),
    listOf("Capture warnings", c.warnings.map((w) => h("li", {}, w)), "coverage-warnings"),
  );
}

function listOf(title: string, items: HTMLElement[], id: string): Child {
  if (items.length === 0) return null;
  const rest = items.length - LIST_MAX;
  return h("div", {}, h("h3", {}, title), h("ul", { id }, ...items.slice(0, LIST_MAX), rest > 0 ? h("li", { class: "empty" }, `… and ${rest} more`) : null));
}

/** One span whole: ids, times, status, every attribute and event. */
export function spanDetail(span: Span): Child {
  const rows: Array<[string, unknown]> = [
    ["span id", span.spanId],
    ["parent id", span.parentId ?? "—"],
    ["trace id", span.traceId],
    ["sequence", span.sequence],
    ["started", time(span.startTime)],
    ["duration", duration(span.endTime - span.startTime)],
    ["status", span.status.message ? `${span.status.code}: ${span.status.message}` : span.status.code],
  ];
  const value = (v: unknown) => h("pre", {}, typeof v === "string" ? v : JSON.stringify(v, null, 2));
  return h(
    "div",
    { class: "span-detail", "data-span-id": span.spanId },
    h("h3", {}, span.name),
    h("table", { class: "attributes" }, h("tbody", {}, ...rows.map(([k, v]) => h("tr", {}, h("th", { scope: "row" }, k), h("td", {}, String(v)))))),
    h("h4", {}, `Attributes (${Object.keys(span.attributes).length})`),
    h("table", { class: "attributes", id: "span-attributes" }, h("tbody", {}, ...Object.entries(span.attributes).map(([k, v]) => h("tr", { "data-key": k }, h("th", { scope: "row", class: "mono" }, k), h("td", {}, value(v)))))),
    span.events.length === 0 ? null : h("h4", {}, `Events (${span.events.length})`),
    ...span.events.map((e) => h("div", { class: "event" }, h("code", {}, e.name), ` at ${duration(e.time - span.startTime)}`, value(e.attributes))),
  );
}

/**
 * The trace of one attempt: its spans as tree and waterfall (one opens whole on demand), rewards on
 * the timeline, its LLM calls as chat, what the adapters made of it under the selected agents
 * (`#/trace/<rolloutId>/<attemptId>?agents=a,b`), and which capture layer saw which call.
 */
import type { Api } from "./api.js";
import { chatView } from "./chat.js";
import { h, show } from "./dom.js";
import { duration, reward } from "./format.js";
import type { Live } from "./live.js";
import type { ChatView, Rollout, Span, TraceOutline } from "./records.js";
import { tokensView } from "./tokens.js";
import { agentPicker, coverageView, diagnosticsView, spanDetail } from "./trace-sections.js";
import { waterfall } from "./waterfall.js";

/** The address of a trace with `agents` selected. */
export function traceHash(rolloutId: string, attemptId: string, agents: readonly string[]): string {
  const base = `#/trace/${encodeURIComponent(rolloutId)}/${encodeURIComponent(attemptId)}`;
  return agents.length === 0 ? base : `${base}?${new URLSearchParams({ agents: agents.join(",") })}`;
}

function section(id: string, title: string): HTMLElement {
  return h("section", { "aria-labelledby": `${id}-title`, id: `${id}-section` }, h("h2", { id: `${id}-title` }, title), h("p", { class: "loading" }, "Loading…"));
}

export function tracePage(main: HTMLElement, api: Api, live: Live, rolloutId: string, attemptId: string, query: URLSearchParams): () => void {
  const selected = new Set((query.get("agents") ?? "").split(",").filter((a) => a !== ""));
  let showTokens = false;
  const summary = h("p", {});
  const spans = section("spans", "Spans");
  const detail = h("section", { id: "span-detail", "aria-live": "polite", "aria-label": "Span attributes", hidden: true });
  const agents = section("agents", "Agents");
  const diagnostics = section("diagnostics", "Training data");
  const coverage = section("coverage", "Capture coverage");
  const tokens = section("tokens", "Tokens");
  const chat = section("chat", "LLM calls");
  const problem = h("p", { class: "error", role: "alert", hidden: true });
  show(main, h("p", {}, h("a", { href: "#/" }, "← Rollouts")), h("h1", {}, "Trace of attempt ", h("span", { class: "mono" }, attemptId)), summary, problem, spans, detail, agents, diagnostics, tokens, coverage, chat);

  const base = `/v1/rollouts/${encodeURIComponent(rolloutId)}/attempts/${encodeURIComponent(attemptId)}`;
  const fail = (error: unknown) => {
    problem.hidden = false;
    problem.textContent = `Could not load the trace: ${error instanceof Error ? error.message : String(error)}`;
  };
  const openSpan = async (spanId: string) => {
    detail.hidden = false;
    show(detail, h("p", { class: "loading" }, "Loading the span…"));
    try {
      show(detail, spanDetail(await api.get<Span>(`${base}/spans/${encodeURIComponent(spanId)}`)));
    } catch (error) {
      show(detail, h("p", { class: "error" }, `Could not load the span: ${error instanceof Error ? error.message : String(error)}`));
    }
  };
  const drawSpans = (rollout: Rollout, outline: TraceOutline) => {
    const attempt = rollout.attempts.find((a) => a.attemptId === attemptId);
    summary.textContent = attempt
      ? `Rollout ${rolloutId} · attempt ${attempt.sequence} · ${attempt.status} · reward ${reward(attempt.finalReward)} · ${duration(attempt.endedAt === null ? null : attempt.endedAt - attempt.startedAt)} · ${outline.spans.length} spans`
      : `Rollout ${rolloutId} has no attempt ${attemptId}.`;
    const drawn = waterfall(outline.spans, { selectedAgents: selected, onOpen: (span) => void openSpan(span.spanId) });
    // A live redraw keeps the reader where they were in the list.
    const scrolled = spans.querySelector(".wf-scroll")?.scrollTop ?? 0;
    show(spans, h("h2", { id: "spans-title" }, "Spans"), drawn);
    const scroller = spans.querySelector(".wf-scroll");
    if (scroller !== null) scroller.scrollTop = scrolled;
    // The marker a reader (and the benchmark) waits for, set once the rows are laid out: reading a
    // layout property makes the browser do that work now, so it is counted before the marker.
    const grid = spans.querySelector<HTMLElement>("#waterfall");
    if (grid !== null && grid.offsetHeight >= 0) grid.dataset.drawn = String(outline.spans.length);
    // The same moment on the page's own clock (milliseconds since navigation), for a reader in another process.
    performance.mark("tracetrain:waterfall-drawn", { detail: { spans: outline.spans.length } });
  };
  const drawChat = (view: ChatView) => {
    show(agents, h("h2", { id: "agents-title" }, "Agents"), agentPicker(view, selected, (picked) => (location.hash = traceHash(rolloutId, attemptId, picked))));
    show(diagnostics, h("h2", { id: "diagnostics-title" }, "Training data"), diagnosticsView(view.diagnostics));
    show(tokens, h("h2", { id: "tokens-title" }, "Tokens"), view.tokens === undefined ? h("p", { class: "empty" }, "This server does not report tokens.") : tokensView(view.tokens));
    show(coverage, h("h2", { id: "coverage-title" }, "Capture coverage"), coverageView(view.coverage));
    show(chat, h("h2", { id: "chat-title" }, "LLM calls"), chatView(view, { selectedAgents: selected, showTokens, onShowTokens: (on) => (showTokens = on) }));
  };

  const chatQuery = selected.size === 0 ? "" : `?${new URLSearchParams({ agents: [...selected].join(",") })}`;
  // Set when the user leaves the page: an answer arriving later must not draw over the next page.
  let left = false;
  const load = async () => {
    try {
      // The waterfall first: the chat view adapts every span, which takes longer on the same server; asked
      // for at once, it would hold the spans back.
      const [rollout, outline] = await Promise.all([api.get<Rollout>(`/v1/rollouts/${encodeURIComponent(rolloutId)}`), api.get<TraceOutline>(`${base}/trace`)]);
      if (left) return;
      drawSpans(rollout, outline);
      const view = await api.get<ChatView>(`${base}/chat${chatQuery}`);
      if (left) return;
      drawChat(view);
      problem.hidden = true;
    } catch (error) {
      if (!left) fail(error);
    }
  };
  // One load at a time: changes that arrive during a load make one more load after it, so an older
  // answer never lands over a newer one and a busy attempt still gets its chat drawn.
  let loading = false;
  let stale = false;
  const refresh = async () => {
    if (loading) {
      stale = true;
      return;
    }
    loading = true;
    do {
      stale = false;
      await load();
    } while (stale);
    loading = false;
  };
  void refresh();
  let queued = false;
  const unsubscribe = live.subscribe((event) => {
    if (event.type !== "spans" && event.type !== "attempt") return;
    if (event.attemptId !== attemptId || queued) return;
    queued = true;
    requestAnimationFrame(() => {
      queued = false;
      void refresh();
    });
  });
  return () => {
    left = true;
    unsubscribe();
  };
}

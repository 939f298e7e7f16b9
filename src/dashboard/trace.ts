/** The trace of one attempt: its spans as tree and waterfall, rewards on the timeline, its LLM calls as chat. */
import type { Api } from "./api.js";
import { chatView } from "./chat.js";
import { h, show } from "./dom.js";
import { duration, reward } from "./format.js";
import type { Live } from "./live.js";
import type { ChatView, Page, Rollout, Span } from "./records.js";
import { waterfall } from "./waterfall.js";

export function tracePage(main: HTMLElement, api: Api, live: Live, rolloutId: string, attemptId: string): () => void {
  const summary = h("p", {});
  const spansSection = h("section", { "aria-labelledby": "spans-title" }, h("h2", { id: "spans-title" }, "Spans"), h("p", {}, "Loading…"));
  const chatSection = h("section", { "aria-labelledby": "chat-title" }, h("h2", { id: "chat-title" }, "LLM calls"), h("p", {}, "Loading…"));
  const problem = h("p", { class: "error", role: "alert", hidden: true });
  show(main, h("p", {}, h("a", { href: "#/" }, "← Rollouts")), h("h1", {}, "Trace of attempt ", h("span", { class: "mono" }, attemptId)), summary, problem, spansSection, chatSection);

  const load = async () => {
    try {
      const [rollout, spans, chat] = await Promise.all([
        api.get<Rollout>(`/v1/rollouts/${encodeURIComponent(rolloutId)}`),
        attemptSpans(api, rolloutId, attemptId),
        api.get<ChatView>(`/v1/rollouts/${encodeURIComponent(rolloutId)}/attempts/${encodeURIComponent(attemptId)}/chat`),
      ]);
      const attempt = rollout.attempts.find((a) => a.attemptId === attemptId);
      summary.textContent = attempt
        ? `Rollout ${rolloutId} · attempt ${attempt.sequence} · ${attempt.status} · reward ${reward(attempt.finalReward)} · ${duration(attempt.endedAt === null ? null : attempt.endedAt - attempt.startedAt)} · ${spans.length} spans`
        : `Rollout ${rolloutId} has no attempt ${attemptId}.`;
      show(spansSection, h("h2", { id: "spans-title" }, "Spans"), waterfall(spans));
      show(chatSection, h("h2", { id: "chat-title" }, "LLM calls"), chatView(chat));
      problem.hidden = true;
    } catch (error) {
      problem.hidden = false;
      problem.textContent = `Could not load the trace: ${error instanceof Error ? error.message : String(error)}`;
    }
  };
  void load();
  let queued = false;
  return live.subscribe((event) => {
    if (event.type !== "spans" && event.type !== "attempt") return;
    if (event.attemptId !== attemptId || queued) return;
    queued = true;
    requestAnimationFrame(() => {
      queued = false;
      void load();
    });
  });
}

async function attemptSpans(api: Api, rolloutId: string, attemptId: string): Promise<Span[]> {
  const spans: Span[] = [];
  let cursor: string | null = null;
  do {
    const query = new URLSearchParams({ attemptId, limit: "10000", ...(cursor === null ? {} : { cursor }) });
    const page: Page<Span> = await api.get<Page<Span>>(`/v1/rollouts/${encodeURIComponent(rolloutId)}/spans?${query}`);
    spans.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor !== null);
  return spans;
}

/**
 * The runners page (`#/runners`): every worker the store knows, whether it is busy, when it was
 * first and last seen, what it last reported, and the rollouts it runs now, each linking to its
 * trace. It reloads when an attempt changes (attempts carry their worker), not on a timer; only the
 * ages tick in the page.
 */
import { DEFAULT_HEARTBEAT_WARNING_MS, type HeartbeatLimit, ago, heartbeatLimit } from "./ages.js";
import type { Api } from "./api.js";
import { type Child, h, show } from "./dom.js";
import { preview, time } from "./format.js";
import type { Live } from "./live.js";
import type { Attempt, Page, Rollout, StoreEvent, Worker } from "./records.js";

/** An attempt a worker holds now, with the rollout it belongs to. */
interface Current {
  rollout: Rollout;
  attempt: Attempt;
}

const ACTIVE = new Set(["preparing", "running"]);

/** Renders the page into `main`; returns what stops its live updates and its clock. */
export function runnersPage(main: HTMLElement, api: Api, live: Live): () => void {
  const tbody = h("tbody");
  const problem = h("p", { class: "error", role: "alert", hidden: true });
  const summary = h("p", { class: "empty", role: "status" });
  /** Age cells, re-read every second from the time they count from. */
  let ages: Array<{ cell: HTMLElement; since: number; limit?: HeartbeatLimit }> = [];

  const render = (workers: readonly Worker[], current: ReadonlyMap<string, Current[]>) => {
    // A reload replaces the rows: the focused link or button is found again by its id.
    const focused = document.activeElement instanceof HTMLElement && main.contains(document.activeElement) ? document.activeElement.id : "";
    ages = [];
    show(tbody, ...(workers.length === 0 ? [h("tr", {}, h("td", { colspan: COLUMNS.length, class: "empty" }, "No worker has dequeued from this store yet."))] : []));
    const ordered = [...workers].sort((a, b) => b.activeAttempts - a.activeAttempts || b.lastSeenAt - a.lastSeenAt);
    for (const worker of ordered) tbody.append(workerRow(worker, current.get(worker.workerId) ?? [], ages));
    tick();
    const busy = workers.filter((w) => w.status === "busy").length;
    summary.textContent = `${workers.length} worker${workers.length === 1 ? "" : "s"}, ${busy} busy. Last seen turns late after the shortest heartbeat timeout of the rollouts a worker runs, or after ${DEFAULT_HEARTBEAT_WARNING_MS / 1000} s when none sets one.`;
    if (focused !== "") document.getElementById(focused)?.focus();
  };

  const tick = () => {
    const now = Date.now();
    for (const { cell, since, limit } of ages) {
      const late = limit !== undefined && now - since > limit.ms;
      cell.textContent = `${ago(now - since)}${late ? " (late)" : ""}`;
      cell.classList.toggle("late", late);
    }
  };

  let loading: Promise<void> | undefined;
  let again = false;
  const load = async (): Promise<void> => {
    try {
      const [{ workers }, running] = await Promise.all([api.get<{ workers: Worker[] }>("/v1/workers"), runningRollouts(api)]);
      problem.hidden = true;
      render(workers, currentByWorker(running));
    } catch (error) {
      problem.hidden = false;
      problem.textContent = `Could not load workers: ${error instanceof Error ? error.message : String(error)}`;
    }
  };
  /** One load at a time; events during a load ask for one more after it, not one each. */
  const reload = () => {
    if (loading !== undefined) {
      again = true;
      return;
    }
    loading = load().finally(() => {
      loading = undefined;
      if (again) {
        again = false;
        reload();
      }
    });
  };

  const unsubscribe = live.subscribe((event: StoreEvent) => {
    if (event.type === "attempt") reload();
  });
  const clock = setInterval(tick, 1000);

  show(
    main,
    h("h1", {}, "Runners"),
    problem,
    summary,
    h("table", { id: "runners" }, h("caption", { class: "empty" }, "Workers known to the store, busiest first, with the rollouts they run now."), h("thead", {}, h("tr", {}, ...COLUMNS.map((c) => h("th", { scope: "col" }, c)))), tbody),
  );
  reload();
  return () => {
    unsubscribe();
    clearInterval(clock);
  };
}

const COLUMNS = ["Worker", "Status", "First seen", "Last seen", "Active", "Reported", "Current rollouts"];

/** Every running rollout, following the store's pages (a store runs as many as its workers hold). */
async function runningRollouts(api: Api): Promise<Rollout[]> {
  const all: Rollout[] = [];
  let cursor: string | null = null;
  do {
    const query: string = new URLSearchParams({ status: "running", limit: "1000", ...(cursor === null ? {} : { cursor }) }).toString();
    const page: Page<Rollout> = await api.get<Page<Rollout>>(`/v1/rollouts?${query}`);
    all.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor !== null);
  return all;
}

/** The active attempts of running rollouts, by the worker that holds them. */
function currentByWorker(rollouts: readonly Rollout[]): Map<string, Current[]> {
  const byWorker = new Map<string, Current[]>();
  for (const rollout of rollouts) {
    for (const attempt of rollout.attempts) {
      if (attempt.workerId === null || !ACTIVE.has(attempt.status)) continue;
      const list = byWorker.get(attempt.workerId) ?? [];
      list.push({ rollout, attempt });
      byWorker.set(attempt.workerId, list);
    }
  }
  return byWorker;
}

function workerRow(worker: Worker, current: readonly Current[], ages: Array<{ cell: HTMLElement; since: number; limit?: HeartbeatLimit }>): HTMLTableRowElement {
  const limit = heartbeatLimit(current.map((c) => c.rollout.config.heartbeatTimeoutMs));
  const firstSeen = h("span", {});
  const lastSeen = h("span", { class: "age" });
  ages.push({ cell: firstSeen, since: worker.firstSeenAt }, { cell: lastSeen, since: worker.lastSeenAt, limit });
  const limitText = limit.source === "rollout" ? `late after ${limit.ms / 1000} s, the heartbeat timeout of its rollouts` : `late after ${limit.ms / 1000} s (no rollout of its sets a heartbeat timeout)`;
  return h(
    "tr",
    { "data-worker-id": worker.workerId, "data-status": worker.status },
    h("th", { scope: "row", class: "mono" }, worker.workerId),
    h("td", { class: `status status-${worker.status}` }, worker.status),
    h("td", { class: "time", title: time(worker.firstSeenAt) }, firstSeen),
    h("td", { class: "time", title: `${time(worker.lastSeenAt)}; ${limitText}` }, lastSeen),
    h("td", { class: "num" }, worker.activeAttempts),
    h("td", {}, statsList(worker.stats)),
    h("td", {}, currentList(current)),
  );
}

function statsList(stats: Record<string, unknown> | null): Child {
  if (stats === null || Object.keys(stats).length === 0) return h("span", { class: "empty" }, "—");
  return h("dl", { class: "stats" }, ...Object.entries(stats).flatMap(([key, value]) => [h("dt", {}, key), h("dd", { class: "mono" }, preview(value, 40))]));
}

function currentList(current: readonly Current[]): Child {
  if (current.length === 0) return h("span", { class: "empty" }, "—");
  return h(
    "ul",
    { class: "current" },
    ...current.map(({ rollout, attempt }) =>
      h(
        "li",
        { "data-rollout-id": rollout.rolloutId },
        h("a", { id: `trace-${attempt.attemptId}`, href: `#/trace/${encodeURIComponent(rollout.rolloutId)}/${encodeURIComponent(attempt.attemptId)}`, title: preview(rollout.input, 300) }, rollout.rolloutId),
        ` · attempt ${attempt.sequence} · `,
        h("span", { class: `status status-${attempt.status}` }, attempt.status),
      ),
    ),
  );
}

/**
 * The training runs list (`#/runs`): most recently updated first, 25 a page, each row a link to
 * its run page. Live: a run that changes is re-read and moves to the top of the first page, as the
 * store orders it; on a later page it is updated where it stands.
 */
import type { Api } from "./api.js";
import { h, show } from "./dom.js";
import { time } from "./format.js";
import type { Live } from "./live.js";
import type { Page, StoreEvent, TrainingRun } from "./records.js";
import { headline } from "./run-model.js";

const PAGE_SIZE = 25;
const COLUMNS = ["Run", "Algorithm", "Status", "Started", "Updated", "Entries", "Summary"];

export function runsPage(main: HTMLElement, api: Api, live: Live): () => void {
  let rows = new Map<string, TrainingRun>();
  let cursor: string | undefined;
  let next: string | null = null;
  const previous: Array<string | undefined> = [];
  const tbody = h("tbody");
  const problem = h("p", { class: "error", role: "alert", hidden: true });
  const pageInfo = h("span", { role: "status" });
  const olderButton = h("button", { type: "button", onclick: () => void go(next ?? undefined, "forward") }, "Older");
  const newerButton = h("button", { type: "button", onclick: () => void go(previous.at(-1), "back") }, "Newer");

  const fail = (what: string, error: unknown) => {
    problem.hidden = false;
    problem.textContent = `${what}: ${error instanceof Error ? error.message : String(error)}`;
  };

  const render = () => {
    show(tbody, ...(rows.size === 0 ? [h("tr", {}, h("td", { colspan: COLUMNS.length, class: "empty" }, "No training run recorded in this store."))] : []));
    for (const run of rows.values()) tbody.append(runRow(run));
    olderButton.disabled = next === null;
    newerButton.disabled = previous.length === 0;
    pageInfo.textContent = `${rows.size} run${rows.size === 1 ? "" : "s"} on this page`;
  };

  const load = async () => {
    try {
      const query = new URLSearchParams({ limit: String(PAGE_SIZE), ...(cursor === undefined ? {} : { cursor }) });
      const page = await api.get<Page<TrainingRun>>(`/v1/runs?${query}`);
      rows = new Map(page.items.map((run) => [run.runId, run]));
      next = page.nextCursor;
      problem.hidden = true;
      render();
    } catch (error) {
      fail("Could not load runs", error);
    }
  };

  const go = async (target: string | undefined, direction: "forward" | "back") => {
    if (direction === "forward") previous.push(cursor);
    else previous.pop();
    cursor = target;
    await load();
  };

  const refresh = async (runId: string) => {
    const run = await api.get<TrainingRun>(`/v1/runs/${encodeURIComponent(runId)}`);
    if (cursor === undefined) {
      rows.delete(runId);
      rows = new Map([[runId, run], ...rows]);
    } else if (rows.has(runId)) rows.set(runId, run);
    else return;
    render();
  };
  // Entries often arrive in bursts (a step, its spend): one read per run per frame.
  const pending = new Set<string>();
  const unsubscribe = live.subscribe((event: StoreEvent) => {
    if (event.type !== "run" || pending.has(event.runId)) return;
    pending.add(event.runId);
    requestAnimationFrame(() => {
      pending.delete(event.runId);
      refresh(event.runId).catch((error: unknown) => fail("Live update failed", error));
    });
  });

  show(
    main,
    h("h1", {}, "Training runs"),
    problem,
    h("table", { id: "runs" }, h("caption", { class: "empty" }, "Most recently updated first; a run's name opens its curves or candidates."), h("thead", {}, h("tr", {}, ...COLUMNS.map((c) => h("th", { scope: "col" }, c)))), tbody),
    h("div", { class: "pager" }, newerButton, olderButton, pageInfo),
  );
  void load();
  return unsubscribe;
}

function runRow(run: TrainingRun): HTMLTableRowElement {
  return h(
    "tr",
    { "data-run-id": run.runId, "data-status": run.status },
    h("td", { class: "mono" }, h("a", { href: `#/runs/${encodeURIComponent(run.runId)}` }, run.runId)),
    h("td", {}, run.algorithm),
    h("td", { class: `status status-${run.status}` }, run.status),
    h("td", { class: "time" }, time(run.createdAt)),
    h("td", { class: "time" }, time(run.updatedAt)),
    h("td", { class: "num" }, run.entries),
    h("td", {}, headline(run.summary)),
  );
}

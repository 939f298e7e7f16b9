/**
 * One training run (`#/runs/<runId>`): its header, then the view its algorithm calls for — RL
 * curves, or the APO/GEPA lineage — kept current from the event stream. A `run` event for this run
 * fetches only the entries after the last sequence seen, so a run in progress grows on screen.
 */
import type { Api } from "./api.js";
import { h, show } from "./dom.js";
import { time } from "./format.js";
import type { Live } from "./live.js";
import { promptView } from "./prompt-run.js";
import type { Page, RunEntry, TrainingRun } from "./records.js";
import { rlView, sftView } from "./rl-run.js";
import { KINDS, type Unreadable, headline, readable } from "./run-model.js";

/** A page section that redraws itself from the whole log whenever the log grows. */
export interface RunView {
  element: HTMLElement;
  update(run: TrainingRun, entries: readonly RunEntry[]): void;
}

/** Entries fetched per request while catching up. */
const BATCH = 1000;

/**
 * A run and its log, read once and then followed. Refreshes never overlap: an event that arrives
 * during one asks for another pass after it, so no entry is skipped or fetched twice.
 */
export class RunLog {
  run: TrainingRun | undefined;
  readonly entries: RunEntry[] = [];
  private lastSequence = 0;
  private busy = false;
  private again = false;
  private stopped = false;

  constructor(
    private readonly api: Api,
    readonly runId: string,
    private readonly onChange: (run: TrainingRun, entries: readonly RunEntry[], added: readonly RunEntry[]) => void,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** Loads the run and follows it until the returned function is called. */
  follow(live: Live): () => void {
    // Subscribed before the first read, so an entry added meanwhile is not missed.
    const unsubscribe = live.subscribe((event) => {
      if (event.type === "run" && event.runId === this.runId) void this.refresh();
    });
    void this.refresh();
    return () => {
      this.stopped = true;
      unsubscribe();
    };
  }

  private async refresh(): Promise<void> {
    if (this.busy) {
      this.again = true;
      return;
    }
    this.busy = true;
    try {
      do {
        this.again = false;
        await this.pull();
      } while (this.again && !this.stopped);
    } catch (error) {
      if (!this.stopped) this.onError(error);
    } finally {
      this.busy = false;
    }
  }

  private async pull(): Promise<void> {
    const path = `/v1/runs/${encodeURIComponent(this.runId)}`;
    const run = await this.api.get<TrainingRun>(path);
    const added: RunEntry[] = [];
    for (;;) {
      const page = await this.api.get<Page<RunEntry>>(`${path}/entries?afterSequence=${this.lastSequence}&limit=${BATCH}`);
      added.push(...page.items);
      if (page.items.length > 0) this.lastSequence = page.items.at(-1)!.sequence;
      if (page.nextCursor === null || page.items.length === 0) break;
    }
    if (this.stopped) return;
    this.run = run;
    this.entries.push(...added);
    this.onChange(run, this.entries, added);
  }
}

/** Renders the run page; returns what stops its live updates. */
export function runPage(main: HTMLElement, api: Api, live: Live, runId: string): () => void {
  const header = h("dl", { class: "run-header" });
  const problem = h("p", { class: "error", role: "alert", hidden: true });
  const warning = h("p", { class: "warning", id: "unreadable", hidden: true });
  const body = h("div", { class: "run-body" }, h("p", {}, "Loading…"));
  show(main, h("p", {}, h("a", { href: "#/runs" }, "← Runs")), h("h1", {}, "Run ", h("span", { class: "mono" }, runId)), header, problem, warning, body);

  let view: RunView | undefined;
  const log = new RunLog(
    api,
    runId,
    (run, all) => {
      problem.hidden = true;
      const { entries, unreadable } = readable(all);
      warning.hidden = unreadable.length === 0;
      warning.textContent = unreadableText(unreadable);
      show(header, ...headerItems(run, all));
      if (view === undefined) {
        view = viewFor(run, entries);
        show(body, view.element);
      }
      view.update(run, entries);
    },
    (error) => {
      problem.hidden = false;
      problem.textContent = `Could not load run ${runId}: ${error instanceof Error ? error.message : String(error)}`;
      if (view === undefined) show(body);
    },
  );
  return log.follow(live);
}

/** The view the run's algorithm calls for; a run of another algorithm is read by the kinds of its entries. */
function viewFor(run: TrainingRun, entries: readonly RunEntry[]): RunView {
  const kinds = new Set(entries.map((e) => e.kind));
  if (run.algorithm === "rl" || kinds.has(KINDS.rlStep)) return rlView();
  if (run.algorithm === "sft" || kinds.has(KINDS.sftRound)) return sftView();
  if (run.algorithm === "apo" || run.algorithm === "gepa" || kinds.has(KINDS.candidate)) return promptView(run.algorithm);
  return entryCountsView();
}

function unreadableText(unreadable: readonly Unreadable[]): string {
  if (unreadable.length === 0) return "";
  const shown = unreadable.slice(0, 3).map((u) => `#${u.sequence} ${u.kind}: ${u.problem}`);
  const more = unreadable.length > shown.length ? `; and ${unreadable.length - shown.length} more` : "";
  return `${unreadable.length} log entr${unreadable.length === 1 ? "y" : "ies"} left out, not in the form this page reads — ${shown.join("; ")}${more}.`;
}

function headerItems(run: TrainingRun, entries: readonly RunEntry[]): HTMLElement[] {
  const item = (term: string, ...value: Array<Node | string>) => [h("dt", {}, term), h("dd", {}, ...value)];
  return [
    ...item("Algorithm", run.algorithm),
    ...item("Status", h("span", { class: `status status-${run.status}`, "data-status": run.status }, run.status)),
    ...item("Started", time(run.createdAt)),
    ...item("Updated", time(run.updatedAt)),
    ...item("Entries", String(entries.length)),
    ...(run.summary === null ? [] : item("Summary", headline(run.summary, 6) || "—")),
    ...(Object.keys(run.config).length === 0 ? [] : item("Settings", h("details", {}, h("summary", {}, "show"), h("pre", {}, JSON.stringify(run.config, null, 2))))),
  ];
}

/** For an algorithm the dashboard has no page for: what its log holds, by kind. */
function entryCountsView(): RunView {
  const element = h("section", { "aria-labelledby": "entries-title" });
  return {
    element,
    update(_run, entries) {
      const counts = new Map<string, number>();
      for (const entry of entries) counts.set(entry.kind, (counts.get(entry.kind) ?? 0) + 1);
      show(
        element,
        h("h2", { id: "entries-title" }, "Log entries by kind"),
        counts.size === 0
          ? h("p", { class: "empty" }, "No entries yet.")
          : h("table", {}, h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Kind"), h("th", { scope: "col" }, "Entries"))), h("tbody", {}, ...[...counts].map(([kind, n]) => h("tr", {}, h("td", { class: "mono" }, kind), h("td", { class: "num" }, n))))),
      );
    },
  };
}

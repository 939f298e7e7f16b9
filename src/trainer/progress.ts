import { z } from "zod";
import type { ProgressReporter } from "../algorithms/index.js";

/** How progress is shown: a live bar (or plain lines when not on a terminal), plain log lines, JSON lines, or not at all. */
export const ProgressModeSchema = z.union([z.enum(["auto", "bar", "plain", "json"]), z.literal(false)]);
export type ProgressMode = z.infer<typeof ProgressModeSchema>;

interface Counts {
  total: number;
  done: number;
  succeeded: number;
  failed: number;
  cancelled: number;
  rewardSum: number;
  rewarded: number;
}

/**
 * Progress on stderr, so stdout stays the program's own. `auto` draws a live bar on a terminal
 * and writes plain lines when piped or under CI: the algorithm's notes (one per step or round),
 * plus a line every 5 s during a long phase and at its end. `json` reports every 10% too.
 */
export class Progress implements ProgressReporter {
  private label = "";
  private counts: Counts = Progress.empty(0);
  private startedAt = performance.now();
  private lastDraw = 0;
  private lastLine = 0;
  private lastDecile = -1;
  private readonly mode: Exclude<ProgressMode, "auto">;

  constructor(
    mode: ProgressMode = "auto",
    private readonly out: NodeJS.WritableStream & { isTTY?: boolean } = process.stderr,
  ) {
    this.mode = mode === "auto" ? (out.isTTY && !process.env.CI ? "bar" : "plain") : mode;
  }

  private static empty(total: number): Counts {
    return { total, done: 0, succeeded: 0, failed: 0, cancelled: 0, rewardSum: 0, rewarded: 0 };
  }

  phase(label: string, total: number): void {
    this.finishBar();
    this.label = label;
    this.counts = Progress.empty(total);
    this.startedAt = performance.now();
    this.lastLine = this.startedAt;
    this.lastDecile = -1;
    // In a log, a phase of rollouts is told by its heartbeats and the note the algorithm writes
    // after it; one without rollouts to count (waiting on an LLM) would otherwise be silent.
    if (this.mode !== "plain" || total === 0) this.emit("phase", `${label}`);
  }

  expect(count: number): void {
    this.counts.total += count;
  }

  rolloutEnded(status: "succeeded" | "failed" | "cancelled", reward: number | null): void {
    const c = this.counts;
    c.done++;
    c[status]++;
    if (reward !== null) {
      c.rewardSum += reward;
      c.rewarded++;
    }
    this.tick();
  }

  note(message: string): void {
    this.finishBar();
    this.emit("note", message);
  }

  /** Ends the current bar line (the trainer calls this when the run ends). */
  close(): void {
    this.finishBar();
  }

  private tick(): void {
    const now = performance.now();
    const c = this.counts;
    const complete = c.done >= c.total;
    if (this.mode === "bar") {
      if (complete || now - this.lastDraw > 100) {
        this.lastDraw = now;
        this.out.write(`\r${this.summary()}\x1b[K`);
      }
    } else if (this.mode === "plain") {
      // Hundreds of short phases (RL steps) must not make hundreds of lines: only a phase that ran
      // long enough to print, or that lost rollouts, reports its end.
      const printed = this.lastLine > this.startedAt;
      if (now - this.lastLine > 5000 || (complete && (printed || c.failed + c.cancelled > 0))) {
        this.lastLine = now;
        this.emit("progress", this.summary());
      }
    } else if (this.mode === "json") {
      const decile = c.total > 0 ? Math.floor((10 * c.done) / c.total) : 0;
      if (complete || decile > this.lastDecile || now - this.lastLine > 5000) {
        this.lastDecile = decile;
        this.lastLine = now;
        this.emit("progress", this.summary());
      }
    }
  }

  private summary(): string {
    const c = this.counts;
    const seconds = (performance.now() - this.startedAt) / 1000;
    const rate = seconds > 0 ? c.done / seconds : 0;
    const width = 24;
    const filled = c.total > 0 ? Math.round((width * Math.min(c.done, c.total)) / c.total) : 0;
    const bar = this.mode === "bar" ? `[${"█".repeat(filled)}${"░".repeat(width - filled)}] ` : "";
    const mean = c.rewarded > 0 ? (c.rewardSum / c.rewarded).toFixed(3) : "n/a";
    // A phase that never said how many rollouts it runs shows a count, not a fraction of zero.
    const done = c.total > 0 ? `${c.done}/${c.total}` : `${c.done} rollouts`;
    return `${this.label}: ${bar}${done} · ${c.failed} failed${c.cancelled ? ` · ${c.cancelled} cancelled` : ""} · mean reward ${mean} · ${rate.toFixed(1)}/s`;
  }

  private emit(kind: "phase" | "progress" | "note", message: string): void {
    if (this.mode === false || this.mode === "bar" && kind === "progress") return;
    if (this.mode === "json") {
      const c = this.counts;
      this.out.write(`${JSON.stringify({ kind, label: this.label, message, done: c.done, total: c.total, failed: c.failed, meanReward: c.rewarded ? c.rewardSum / c.rewarded : null })}\n`);
    } else {
      this.out.write(`[tracetrain] ${message}\n`);
    }
  }

  private finishBar(): void {
    if (this.mode === "bar" && this.counts.done > 0) {
      this.out.write(`\r${this.summary()}\x1b[K\n`);
      this.counts = Progress.empty(this.counts.total);
    }
  }
}

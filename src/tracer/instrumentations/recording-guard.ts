import { consoleLogger } from "../../types/index.js";

/**
 * Runs an instrumentation's recording work so that a bug in it never breaks the agent — the SDK
 * calls us inside its own work, or awaits our promise. The first failure is logged, later ones
 * only skipped, so a broken recorder cannot flood the console.
 */
export class RecordingGuard {
  private warned = false;

  /** `what` completes "tracetrain: … failed", e.g. "recording an AI SDK diagnostics-channel message". */
  constructor(private readonly what: string) {}

  run<T>(fn: () => T, where?: string): T | undefined {
    try {
      return fn();
    } catch (error) {
      if (!this.warned) {
        this.warned = true;
        const place = where === undefined ? "" : ` in ${where}`;
        consoleLogger.warn(`tracetrain: ${this.what} failed${place} and was skipped (reported once): ${error instanceof Error ? error.message : String(error)}`);
      }
      return undefined;
    }
  }
}

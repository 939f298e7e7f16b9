/**
 * The behaviour filter between the steps of a policy run (RL's steps, SFT's rounds): run
 * detectors see each step, the step's `behaviour` entry is recorded, and the finding that stops the
 * run — from one of the step's rollouts or from the run as a whole — is returned.
 */
import type { RecordedFinding, StepObservation } from "../adapters/index.js";
import type { BehaviourCounts, BehaviourStop } from "../types/index.js";
import type { AlgorithmContext } from "./algorithm.js";
import { stopOf } from "./behaviour-review.js";
import type { RunLog } from "./run-log.js";

export class BehaviourSteps {
  private readonly observations: StepObservation[] = [];

  constructor(
    private readonly ctx: Pick<AlgorithmContext, "behaviour" | "signal">,
    private readonly log: RunLog,
  ) {}

  /**
   * After one step (`label`, e.g. `step-3` or `round-3`): `counts` and `found` are what the review
   * of its rollouts gave. Returns the finding that stops the run, if any; nothing without a filter.
   */
  after(label: string, observation: StepObservation, counts: BehaviourCounts, found: RecordedFinding | undefined): BehaviourStop | undefined {
    const filter = this.ctx.behaviour;
    if (filter === undefined) return undefined;
    this.observations.push(observation);
    const runFindings = filter.observeSteps(this.observations);
    const fromRun = runFindings.find((f) => f.action === "stop");
    const stop = found !== undefined ? stopOf(found) : fromRun !== undefined ? stopOf(fromRun) : undefined;
    if (!this.ctx.signal.aborted) {
      const described = runFindings.map(({ detector, rule, severity, message, action }) => ({ detector, rule, severity, message, action }));
      this.log.add("behaviour", `behaviour-${label}`, { label, counts, runFindings: described, stop: stop ?? null });
    }
    return stop;
  }
}

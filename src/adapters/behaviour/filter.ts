/**
 * The behaviour filter's pure core: run the user's detectors over adapted attempts, task groups
 * and run histories, and judge what their findings do to each rollout under the policy — the
 * penalty it takes, whether it is left out of training data, whether it stops the run. Reading
 * spans from a store and writing finding spans is the caller's business (the algorithms' review,
 * the trainer's live hooks); nothing here does I/O.
 */
import { z } from "zod";
import { type BehaviourAction, type Finding, FindingSchema, ValidationError, parseOrThrow } from "../../types/index.js";
import { hasMethods } from "../../util/index.js";
import type { AdaptedAttempt } from "../transitions.js";
import type { Detector, FindingDraft, GroupMember, StepObservation } from "./detector.js";
import { type AttemptFinding, type FindingScope, type RecordedFinding, findingSpanId } from "./finding-spans.js";
import { DetectorPolicySchema, type ParsedDetectorPolicy, type ParsedPenalty, PenaltySchema, actionFor, excludes } from "./policy.js";

function isDetector(value: unknown): value is Detector {
  if (typeof value !== "object" || value === null) return false;
  const { name } = value as { name?: unknown };
  if (typeof name !== "string" || name.length === 0 || name.length > 128) return false;
  return hasMethods(value, ["inspect"]) || hasMethods(value, ["inspectGroup"]) || hasMethods(value, ["observeSteps"]);
}

export const BehaviourFilterOptionsSchema = z.strictObject({
  /** The detectors to run: built-in ones or your own `Detector`s (names must differ). */
  detectors: z
    .array(z.custom<Detector>(isDetector, "expected a Detector: an object with a name (1-128 characters) and at least one of inspect(), inspectGroup(), observeSteps()"))
    .min(1),
  /**
   * What each detector's findings do, by detector name: `"log"`, `"penalize"`, `"exclude"` or
   * `"stop"`, or `{ action, rules: { ruleName: action }, minSeverity }`. A detector not named here
   * only logs. @default {} (every finding is only logged)
   */
  policy: z.record(z.string().min(1).max(128), DetectorPolicySchema).default({}),
  /** How much `penalize` lowers a rollout's reward. @default { perFinding: 0.5, maxPerRollout: 1 } */
  penalty: PenaltySchema.prefault({}),
});
export type BehaviourFilterOptions = z.input<typeof BehaviourFilterOptionsSchema>;

/** A finding about a whole run (a run detector's), with the step it was reported on. */
export interface RunFinding extends Omit<Finding, "rolloutId" | "attemptId"> {
  step: number;
  action: BehaviourAction;
}

/** A finding of one attempt and where it was found, before it is judged. */
export interface ScopedFinding extends AttemptFinding {
  scope: FindingScope;
}

/** What the policy makes of one attempt's findings. */
export interface BehaviourDecision {
  /** Every finding of the attempt: those already recorded, then those added, each with its action and penalty. */
  findings: RecordedFinding[];
  /** The findings that were not recorded yet (their spans are to be written). */
  added: RecordedFinding[];
  /** The reward change, 0 or negative: the sum of the findings' penalties. */
  penalty: number;
  /** Left out of training data (an `exclude` or `stop` finding). */
  excluded: boolean;
  /** The first finding whose action is `stop`. */
  stop: RecordedFinding | undefined;
}

/**
 * Detectors plus the policy that says what their findings do. Give it to
 * `new Trainer({ behaviour })`: RL, APO and GEPA then review every rollout they train on.
 */
export class BehaviourFilter {
  readonly detectors: readonly Detector[];
  readonly policy: Readonly<Record<string, ParsedDetectorPolicy>>;
  readonly penalty: Readonly<ParsedPenalty>;

  constructor(options: BehaviourFilterOptions) {
    const parsed = parseOrThrow(BehaviourFilterOptionsSchema, options, "behaviour filter options");
    const issues = crossCheck(parsed.detectors, parsed.policy);
    if (issues.length > 0) throw new ValidationError("behaviour filter options", issues);
    this.detectors = Object.freeze([...parsed.detectors]);
    this.policy = Object.freeze({ ...parsed.policy });
    this.penalty = Object.freeze({ ...parsed.penalty });
  }

  /** Whether any detector looks at traces (one attempt's, or a group's): a review must read them. */
  get inspectsTraces(): boolean {
    return this.detectors.some((d) => d.inspect !== undefined || d.inspectGroup !== undefined);
  }

  /** Whether any detector looks at task groups (then a review adapts every rollout of a group together). */
  get inspectsGroups(): boolean {
    return this.detectors.some((d) => d.inspectGroup !== undefined);
  }

  /** The action the policy gives a finding. */
  actionFor(finding: Pick<Finding, "detector" | "rule" | "severity">): BehaviourAction {
    return actionFor(this.policy, finding);
  }

  /** The findings of every detector in one attempt's trace, detector by detector. */
  inspect(attempt: AdaptedAttempt): ScopedFinding[] {
    const out: ScopedFinding[] = [];
    for (const detector of this.detectors) {
      if (detector.inspect === undefined) continue;
      const drafts = runDetector(detector, attempt.rolloutId, () => detector.inspect!(attempt));
      for (const draft of drafts) out.push({ ...complete(detector.name, draft, attempt.rolloutId, attempt.attemptId), scope: "attempt" });
    }
    return out;
  }

  /**
   * The findings of every group detector across the rollouts of one task. A finding naming a
   * rollout goes to that rollout; one naming none goes to every member.
   */
  inspectGroup(members: readonly GroupMember[]): ScopedFinding[] {
    const out: ScopedFinding[] = [];
    const byRollout = new Map(members.map((m) => [m.attempt.rolloutId, m.attempt]));
    for (const detector of this.detectors) {
      if (detector.inspectGroup === undefined) continue;
      const drafts = runDetector(detector, `group of ${members[0]?.attempt.rolloutId ?? "none"}`, () => detector.inspectGroup!(members));
      for (const draft of drafts) {
        const targets = draft.rolloutId === undefined ? [...byRollout.values()] : [byRollout.get(draft.rolloutId)];
        if (targets[0] === undefined) {
          throw new ValidationError(`finding of behaviour detector '${detector.name}'`, [{ path: "rolloutId", message: `'${draft.rolloutId}' is not a rollout of the group it was given` }]);
        }
        for (const attempt of targets) out.push({ ...complete(detector.name, draft, attempt!.rolloutId, attempt!.attemptId), scope: "group" });
      }
    }
    return out;
  }

  /** The findings of every run detector over the steps so far, reported on the last one. */
  observeSteps(history: readonly StepObservation[]): RunFinding[] {
    const step = history.at(-1)?.step;
    if (step === undefined) return [];
    const out: RunFinding[] = [];
    for (const detector of this.detectors) {
      if (detector.observeSteps === undefined) continue;
      for (const draft of runDetector(detector, `step ${step}`, () => detector.observeSteps!(history))) {
        const { rolloutId: _r, attemptId: _a, ...finding } = complete(detector.name, draft, "run", "run");
        out.push({ ...finding, step, action: this.actionFor(finding) });
      }
    }
    return out;
  }

  /**
   * What the policy makes of one attempt: `recorded` are the findings its trace already holds (a
   * live hook wrote them), `found` those a detector just returned. A found finding already
   * recorded is not added again. Penalties go finding by finding, recorded ones first, each
   * taking `perFinding` until the rollout has lost `maxPerRollout`.
   */
  judge(recorded: readonly RecordedFinding[], found: readonly ScopedFinding[]): BehaviourDecision {
    const known = new Set(recorded.map((f) => f.findingSpanId));
    let lost = -recorded.reduce((sum, f) => sum + f.penalty, 0);
    const added: RecordedFinding[] = [];
    for (const finding of found) {
      const id = findingSpanId(finding);
      if (known.has(id)) continue;
      known.add(id);
      const action = this.actionFor(finding);
      // Rounded so that shares read back as written (0.6 − 0.4 is 0.19999999999999996 in floating point).
      const take = action === "penalize" ? round(Math.max(0, Math.min(this.penalty.perFinding, this.penalty.maxPerRollout - lost))) : 0;
      lost += take;
      added.push({ ...finding, action, penalty: take === 0 ? 0 : -take, findingSpanId: id });
    }
    const findings = [...recorded, ...added];
    return {
      findings,
      added,
      penalty: findings.reduce((sum, f) => sum + f.penalty, 0),
      excluded: findings.some((f) => excludes(f.action)),
      stop: findings.find((f) => f.action === "stop"),
    };
  }
}

function round(value: number): number {
  return Math.round(value * 1e9) / 1e9;
}

/** Problems no field schema can see: two detectors of one name, a policy for a detector that is not there. */
function crossCheck(detectors: readonly Detector[], policy: Readonly<Record<string, unknown>>): Array<{ path: string; message: string }> {
  const issues: Array<{ path: string; message: string }> = [];
  const names = new Set<string>();
  detectors.forEach((d, i) => {
    if (names.has(d.name)) issues.push({ path: `detectors[${i}].name`, message: `two detectors are named '${d.name}'; findings and the policy tell them apart by name` });
    names.add(d.name);
  });
  for (const name of Object.keys(policy)) {
    if (!names.has(name)) issues.push({ path: `policy[${JSON.stringify(name)}]`, message: `no detector is named '${name}' (detectors: ${[...names].join(", ")})` });
  }
  return issues;
}

/** Runs one detector scope; a detector that throws stops the review with its name on the error. */
function runDetector<T>(detector: Detector, on: string, inspect: () => T[]): T[] {
  try {
    const drafts = inspect();
    if (!Array.isArray(drafts)) throw new TypeError(`returned ${typeof drafts}, expected an array of findings`);
    return drafts;
  } catch (error) {
    if (error instanceof ValidationError) throw error;
    throw new Error(`behaviour detector '${detector.name}' failed on ${on}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}

/** A detector's draft with its name and rollout filled in, checked against the Finding schema. */
function complete(detector: string, draft: Omit<FindingDraft, "rolloutId">, rolloutId: string, attemptId: string): AttemptFinding {
  const { rolloutId: _ignored, ...fields } = draft as FindingDraft;
  return { ...parseOrThrow(FindingSchema, { ...fields, detector, rolloutId, attemptId }, `finding of behaviour detector '${detector}'`), attemptId };
}

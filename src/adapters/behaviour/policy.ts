/**
 * What a behaviour filter does with a finding: the user's policy, per detector (and optionally per
 * rule and from a severity up), and how much a `penalize` finding costs. Everything not named in
 * the policy is only logged, so adding a detector never changes training until the user says so.
 */
import { z } from "zod";
import { type BehaviourAction, BehaviourActionSchema, type Finding, type FindingSeverity, FindingSeveritySchema } from "../../types/index.js";

/** One detector's policy: an action for all its findings, or an object refining it. */
export const DetectorPolicySchema = z.union([
  BehaviourActionSchema,
  z.strictObject({
    /** What its findings do unless a rule says otherwise. @default "log" */
    action: BehaviourActionSchema.default("log"),
    /** Per rule name (`denied-tool`, …): an action that replaces `action` for that rule's findings. */
    rules: z.record(z.string().min(1).max(128), BehaviourActionSchema).optional(),
    /** Findings less severe than this are only logged, whatever the action. @default every severity acts */
    minSeverity: FindingSeveritySchema.optional(),
  }),
]);
export type DetectorPolicy = z.input<typeof DetectorPolicySchema>;
export type ParsedDetectorPolicy = z.output<typeof DetectorPolicySchema>;

/**
 * How much `penalize` lowers a rollout's reward: `perFinding` for each penalizing finding, in
 * finding order, until the rollout has lost `maxPerRollout` in all (the last one takes what is
 * left). Each finding span records the share it took.
 */
export const PenaltySchema = z.strictObject({
  /** Subtracted from the reward for each penalizing finding. @default 0.5 */
  perFinding: z.number().positive().max(1e6).default(0.5),
  /** The most a rollout loses to penalties in all. @default 1 */
  maxPerRollout: z.number().positive().max(1e6).default(1),
});
export type PenaltyOptions = z.input<typeof PenaltySchema>;
export type ParsedPenalty = z.output<typeof PenaltySchema>;

const SEVERITY_RANK: Record<FindingSeverity, number> = { low: 0, medium: 1, high: 2, critical: 3 };

/** The action `policy` gives this finding (`log` when its detector is not named). */
export function actionFor(policy: Readonly<Record<string, ParsedDetectorPolicy>>, finding: Pick<Finding, "detector" | "rule" | "severity">): BehaviourAction {
  const entry = policy[finding.detector];
  if (entry === undefined) return "log";
  if (typeof entry === "string") return entry;
  if (entry.minSeverity !== undefined && SEVERITY_RANK[finding.severity] < SEVERITY_RANK[entry.minSeverity]) return "log";
  return entry.rules?.[finding.rule] ?? entry.action;
}

/** Whether an action keeps the rollout out of training data: `exclude`, and `stop` (the finding that stops a run is not trained on either). */
export function excludes(action: BehaviourAction): boolean {
  return action === "exclude" || action === "stop";
}

/**
 * The behaviour filter: detectors — pure functions over an adapted attempt (or a group, or a run's
 * steps) that return findings: tool calls a policy denies or flags, injected instructions and
 * whether they were followed, secrets and personal data the agent wrote, reward-hacking signals —,
 * the policy that says what their findings do, and findings as spans of the trace they are about.
 * Pure: no I/O.
 */
export type { Detector, FindingDraft, GroupMember, StepObservation } from "./detector.js";
export { toolPolicy, ToolPolicyOptionsSchema, type ToolPolicyOptions } from "./tool-policy.js";
export { injection, InjectionOptionsSchema, type InjectionOptions } from "./injection.js";
export { secrets, SecretsOptionsSchema, type SecretsOptions } from "./secrets.js";
export { SECRET_KINDS, type SecretKind } from "./secret-patterns.js";
export { rewardHacking, RewardHackingOptionsSchema, type RewardHackingOptions } from "./reward-hacking.js";
export { builtInDetectors } from "./built-in.js";
export { BehaviourFilter, BehaviourFilterOptionsSchema, type BehaviourFilterOptions, type BehaviourDecision, type RunFinding, type ScopedFinding } from "./filter.js";
export { DetectorPolicySchema, PenaltySchema, actionFor, excludes, type DetectorPolicy, type PenaltyOptions } from "./policy.js";
export {
  findingsOf,
  findingSpan,
  findingSpanId,
  isFindingSpan,
  RecordedFindingSchema,
  FindingScopeSchema,
  type RecordedFinding,
  type AttemptFinding,
  type FindingScope,
  type FindingPlacement,
} from "./finding-spans.js";

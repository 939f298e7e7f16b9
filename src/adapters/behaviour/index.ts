/**
 * The behaviour filter: detectors (the `Detector` contract), the policy that says what their
 * findings do, and findings as spans of the trace they are about. Pure: no I/O.
 */
export type { Detector, FindingDraft, GroupMember, StepObservation } from "./detector.js";
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

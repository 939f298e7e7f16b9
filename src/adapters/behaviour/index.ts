/**
 * Behaviour detectors: pure functions over an adapted attempt (or a group, or a run's steps) that
 * return findings — tool calls a policy denies or flags, injected instructions and whether they were
 * followed, secrets and personal data the agent wrote, and reward-hacking signals.
 */
export type { Detector, FindingDraft, GroupMember, StepObservation } from "./detector.js";
export { toolPolicy, ToolPolicyOptionsSchema, type ToolPolicyOptions } from "./tool-policy.js";
export { injection, InjectionOptionsSchema, type InjectionOptions } from "./injection.js";
export { secrets, SecretsOptionsSchema, type SecretsOptions } from "./secrets.js";
export { SECRET_KINDS, type SecretKind } from "./secret-patterns.js";
export { rewardHacking, RewardHackingOptionsSchema, type RewardHackingOptions } from "./reward-hacking.js";
export { builtInDetectors } from "./built-in.js";

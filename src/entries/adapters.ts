/**
 * `tracetrain/adapters`: pure functions from spans to training data — span trees, LLM calls,
 * rewards and credit policies, transitions and trajectories, chat records for SFT, merged token
 * samples for RL, export formats, the diagnostics that say why something was dropped, and the
 * behaviour detectors (`toolPolicy`, `injection`, `secrets`, `rewardHacking`, `builtInDetectors`).
 * `TraceAdapter` (also at the root) bundles them behind one object.
 *
 * @packageDocumentation
 */
export * from "../adapters/index.js";

export { GEPA, type GEPAResult, type GEPAStopReason, type PoolEntry, type ProposalRecord } from "./gepa.js";
export type { GEPAOptions } from "./options.js";

export { SFT, type SFTResult, type SFTRoundRecord, type SFTVerdict } from "./sft.js";
export type { SFTOptions, SFTFilter } from "./options.js";

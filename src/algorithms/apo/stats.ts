/** The shared statistics (APO reports with them; so does RL's final verdict). */
export { type Estimate, estimate, pairedDifference } from "../stats.js";

/** The runner benchmark's agent, in its own module so worker processes can import it. */
import { agent } from "tracetrain";

export const emptyAgent = agent(async (task: number) => task % 2, { name: "empty", module: import.meta.url });

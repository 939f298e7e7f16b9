/** The 36 support tickets, each with the queue it belongs in (written for this example). */
import { fileURLToPath } from "node:url";
import { loadDataset } from "tracetrain";
import { z } from "zod";
import { QUEUES } from "./simulation.js";

const TicketSchema = z.strictObject({ id: z.string(), ticket: z.string().min(1), expected: z.enum(QUEUES) });
export type Ticket = z.infer<typeof TicketSchema>;

/** Every ticket, checked: a malformed line is reported as `tickets.jsonl:LINE: …`. */
export function loadTickets(): Promise<Ticket[]> {
  return loadDataset(fileURLToPath(new URL("./data/tickets.jsonl", import.meta.url)), { schema: TicketSchema });
}

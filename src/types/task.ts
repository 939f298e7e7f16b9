import { JsonValueSchema } from "./json.js";
import type { z } from "zod";

/** A task is one dataset row, which may be whatever JSON value. The agent receives it unchanged. */
export const TaskSchema = JsonValueSchema;
export type Task = z.infer<typeof TaskSchema>;

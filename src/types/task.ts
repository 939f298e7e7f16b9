import { JsonValueSchema } from "./json.js";
import type { z } from "zod";

/** A task is one dataset row: any JSON value. The agent receives it unchanged. */
export const TaskSchema = JsonValueSchema;
export type Task = z.infer<typeof TaskSchema>;

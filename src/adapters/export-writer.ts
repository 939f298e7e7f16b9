/**
 * Writes JSONL to a stream, honouring backpressure. The only adapter module that touches I/O, and
 * only through the writable it is handed.
 */
import { toJsonLine } from "./export-formats.js";

/** What {@link writeJsonl} writes to: a Node `Writable` (a file stream, `process.stdout`) fits. */
export interface JsonlSink {
  write(chunk: string): boolean;
  once(event: "drain", listener: () => void): unknown;
}

/** Writes each record as one JSON line; waits for `drain` when the stream asks to. Returns the number of lines. */
export async function writeJsonl(records: Iterable<unknown> | AsyncIterable<unknown>, out: JsonlSink): Promise<number> {
  let lines = 0;
  for await (const record of records) {
    lines++;
    if (!out.write(toJsonLine(record))) await new Promise<void>((resolve) => out.once("drain", resolve));
  }
  return lines;
}

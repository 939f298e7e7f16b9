/**
 * An incremental server-sent-events parser (the WHATWG event-stream format), for reading LLM
 * streams as they arrive. It is fed text in arbitrary pieces — a chunk boundary may fall inside a
 * line, or between the `\r` and `\n` of one line ending — and never throws: unknown fields and
 * garbage lines are ignored, as the format requires.
 */

export interface SseEvent {
  /** The `event:` field; undefined for unnamed events (OpenAI chat/completions streams). */
  event: string | undefined;
  /** The `data:` lines joined with `\n`. */
  data: string;
}

export class SseParser {
  private buffer = "";
  private event: string | undefined;
  private data: string[] = [];
  /** A `\r` ended the last piece: a `\n` starting the next one belongs to the same line ending. */
  private pendingCr = false;

  /** Feeds a piece of the stream; returns the events it completed. */
  push(piece: string): SseEvent[] {
    const text = this.buffer + (this.pendingCr && piece.startsWith("\n") ? piece.slice(1) : piece);
    this.pendingCr = false;
    const out: SseEvent[] = [];
    let start = 0;
    for (let i = 0; i < text.length; i++) {
      const ch = text.charCodeAt(i);
      if (ch !== 10 && ch !== 13) continue;
      this.line(text.slice(start, i), out);
      if (ch === 13) {
        if (i + 1 === text.length) this.pendingCr = true;
        else if (text.charCodeAt(i + 1) === 10) i++;
      }
      start = i + 1;
    }
    this.buffer = text.slice(start);
    return out;
  }

  /** Ends the stream: a last event without its closing blank line is still delivered. */
  end(): SseEvent[] {
    const out: SseEvent[] = [];
    if (this.buffer !== "") this.line(this.buffer, out);
    this.buffer = "";
    this.line("", out);
    return out;
  }

  private line(line: string, out: SseEvent[]): void {
    if (line === "") {
      if (this.data.length > 0) out.push({ event: this.event, data: this.data.join("\n") });
      this.event = undefined;
      this.data = [];
      return;
    }
    if (line.charCodeAt(0) === 58) return; // ":" starts a comment (keep-alives)
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    if (field === "data") this.data.push(value);
    else if (field === "event") this.event = value;
    // `id` and `retry` do not matter for recording a response
  }
}

/** Parses a whole event-stream text at once. */
export function parseSse(text: string): SseEvent[] {
  const parser = new SseParser();
  return [...parser.push(text), ...parser.end()];
}

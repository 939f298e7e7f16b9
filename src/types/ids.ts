import { randomFillSync } from "node:crypto";

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));
const POOL_SIZE = 4096;
const pool = Buffer.allocUnsafe(POOL_SIZE);
let offset = POOL_SIZE;

/**
 * `bytes` random bytes as lowercase hex, never all zeros (OTel's "invalid" id). Random bytes come
 * from a pooled crypto buffer: one system call per ~500 span ids instead of one per id.
 */
function randomHex(bytes: number): string {
  for (;;) {
    if (offset + bytes > POOL_SIZE) {
      randomFillSync(pool);
      offset = 0;
    }
    let hex = "";
    let nonZero = 0;
    for (let i = 0; i < bytes; i++) {
      const byte = pool[offset++]!;
      nonZero |= byte;
      hex += HEX[byte];
    }
    if (nonZero !== 0) return hex;
  }
}

/** A new OTel trace id: 32 hex characters. */
export const newTraceId = (): string => randomHex(16);
/** A new OTel span id: 16 hex characters. */
export const newSpanId = (): string => randomHex(8);

/** Wall-clock milliseconds with sub-millisecond precision, monotonic within the process. */
export const nowMs = (): number => performance.timeOrigin + performance.now();

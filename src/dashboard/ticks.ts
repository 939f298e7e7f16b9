/** Axis ticks and how a chart writes a value. No DOM here, so the unit tests run it under Node. */

/** Whole-number ticks covering [min, max], at most about 10 of them; a single step gets room on both sides. */
export function integerTicks(min: number, max: number): number[] {
  const lo = Math.floor(min);
  const hi = Math.max(Math.ceil(max), lo + 1);
  const step = Math.max(1, niceStep((hi - lo) / 10));
  const ticks: number[] = [];
  for (let t = Math.floor(lo / step) * step; t < hi + step; t += step) {
    ticks.push(t);
    if (t >= hi) break;
  }
  return ticks;
}

/** About five round ticks covering [min, max] (1, 2 or 5 times a power of ten apart). */
export function niceTicks(min: number, max: number): number[] {
  if (min === max) {
    const pad = Math.abs(min) * 0.1 || 1;
    return niceTicks(min - pad, max + pad);
  }
  const step = niceStep((max - min) / 5);
  const start = Math.floor(min / step) * step;
  const ticks: number[] = [];
  for (let i = 0; start + i * step < max + step * 1e-9 || ticks.length < 2; i++) ticks.push(Number((start + i * step).toPrecision(12)));
  if (ticks.at(-1)! < max) ticks.push(Number((start + ticks.length * step).toPrecision(12)));
  return ticks;
}

function niceStep(raw: number): number {
  if (!(raw > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(raw));
  const fraction = raw / power;
  return (fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10) * power;
}

/** A value as the chart writes it: three significant digits, whole thousands grouped. */
export function number(value: number): string {
  if (Math.abs(value) >= 1000) return Math.round(value).toLocaleString("en");
  return String(Number(value.toPrecision(3)));
}

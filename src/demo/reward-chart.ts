/**
 * A reward curve as a standalone SVG: training reward per step and validation reward where
 * measured, on a 0–1 scale, against a baseline (the untrained policy's score); optionally, thin lines for two shares
 * on the same scale that say why a curve moves or stalls — the groups without a learning signal,
 * and how much of each rollout merged into one training sample.
 */

export interface CurvePoint {
  step: number;
  train: number | null;
  val?: number | null;
  /** Share of the step's groups whose rollouts all scored alike. */
  noSignal?: number | null;
  /** Mean share of a rollout's calls merged into fewer samples. */
  merged?: number | null;
}

export interface ChartOptions {
  /** The headline: best when it states the result. */
  title: string;
  /** A reference score drawn as a dotted line and labelled in the legend (e.g. the untrained policy's); none when undefined. */
  baseline?: { value: number; label: string };
}

const WIDTH = 680;
const HEIGHT = 360;
// The right margin holds the legend; its longest label, "before training (0.09)", needs about 125 px.
const MARGIN = { left: 56, right: 190, top: 40, bottom: 48 };
/** At most this many intervals between x ticks: more would crowd the axis. */
const MAX_X_INTERVALS = 6;
const COLOURS = { train: "#4a7bd0", val: "#d0564a", baseline: "#888", noSignal: "#b58a1b", merged: "#3c9a5f" };

export function rewardChartSvg(points: readonly CurvePoint[], options: ChartOptions): string {
  const lastStep = Math.max(1, ...points.map((p) => p.step));
  const x = (step: number) => MARGIN.left + (step / lastStep) * (WIDTH - MARGIN.left - MARGIN.right);
  const y = (reward: number) => HEIGHT - MARGIN.bottom - Math.max(0, Math.min(1, reward)) * (HEIGHT - MARGIN.top - MARGIN.bottom);
  const line = (values: Array<[number, number]>) => values.map(([s, r], i) => `${i === 0 ? "M" : "L"}${x(s).toFixed(1)},${y(r).toFixed(1)}`).join(" ");
  const train = points.filter((p): p is CurvePoint & { train: number } => p.train !== null).map((p): [number, number] => [p.step, p.train]);
  const val = points.filter((p) => typeof p.val === "number").map((p): [number, number] => [p.step, p.val as number]);
  const series = (pick: (p: CurvePoint) => number | null | undefined) =>
    points.flatMap((p): Array<[number, number]> => {
      const value = pick(p);
      return typeof value === "number" ? [[p.step, value]] : [];
    });
  const shares = [
    { name: "no-signal", label: "no-signal share", colour: COLOURS.noSignal, values: series((p) => p.noSignal) },
    { name: "merged", label: "merge ratio", colour: COLOURS.merged, values: series((p) => p.merged) },
  ].filter((share) => share.values.length > 0);
  const grid = [0, 0.25, 0.5, 0.75, 1]
    .map((r) => `<line x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${y(r)}" y2="${y(r)}" stroke="#ddd"/><text x="${MARGIN.left - 8}" y="${y(r) + 4}" text-anchor="end">${r.toFixed(2)}</text>`)
    .join("");
  const ticks = roundTicks(lastStep)
    .map((s) => `<text class="x-tick" x="${x(s).toFixed(1)}" y="${HEIGHT - MARGIN.bottom + 18}" text-anchor="middle">${s}</text>`)
    .join("");
  const legendX = WIDTH - MARGIN.right + 16;
  const legend = (row: number, colour: string, dash: string, label: string, width = 2) =>
    `<line x1="${legendX}" x2="${legendX + 24}" y1="${MARGIN.top + 10 + 20 * row}" y2="${MARGIN.top + 10 + 20 * row}" stroke="${colour}" stroke-width="${width}"${dash}/><text x="${legendX + 30}" y="${MARGIN.top + 14 + 20 * row}">${label}</text>`;
  const { baseline } = options;
  const baselineLine =
    baseline === undefined
      ? ""
      : `<line class="baseline" x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${y(baseline.value).toFixed(1)}" y2="${y(baseline.value).toFixed(1)}" stroke="${COLOURS.baseline}" stroke-width="1.5" stroke-dasharray="2 3"/>\n` +
        legend(2, COLOURS.baseline, ' stroke-dasharray="2 3"', `${escapeXml(baseline.label)} (${baseline.value.toFixed(2)})`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="${MARGIN.left}" y="24" font-size="14" font-weight="bold">${escapeXml(options.title)}</text>
${grid}${ticks}
<text x="${(MARGIN.left + WIDTH - MARGIN.right) / 2}" y="${HEIGHT - 10}" text-anchor="middle">step</text>
<text transform="translate(16 ${HEIGHT / 2}) rotate(-90)" text-anchor="middle">${shares.length > 0 ? "mean reward · share" : "mean reward"}</text>
${baselineLine}
<path d="${line(train)}" fill="none" stroke="${COLOURS.train}" stroke-width="2"/>
<path d="${line(val)}" fill="none" stroke="${COLOURS.val}" stroke-width="2" stroke-dasharray="6 3"/>
${val.map(([s, r]) => `<circle cx="${x(s).toFixed(1)}" cy="${y(r).toFixed(1)}" r="3" fill="${COLOURS.val}"/>`).join("")}
${legend(0, COLOURS.train, "", "train")}
${legend(1, COLOURS.val, ' stroke-dasharray="6 3"', "validation")}
${shares.map((share, i) => `<path class="${share.name}" d="${line(share.values)}" fill="none" stroke="${share.colour}" stroke-width="1" stroke-opacity="0.8"/>\n${legend(3 + i, share.colour, "", share.label, 1)}`).join("\n")}
</svg>
`;
}

/** Ticks at 0 and at every multiple of a round interval (1, 2 or 5 × 10ⁿ) up to `last`. */
export function roundTicks(last: number): number[] {
  const interval = roundInterval(last);
  return Array.from({ length: Math.floor(last / interval) + 1 }, (_, i) => i * interval);
}

/** The smallest round interval that cuts `span` into at most MAX_X_INTERVALS pieces. */
function roundInterval(span: number): number {
  if (!Number.isFinite(span) || span <= 0) return 1;
  for (let magnitude = 1; ; magnitude *= 10) {
    for (const multiple of [1, 2, 5]) if (span / (multiple * magnitude) <= MAX_X_INTERVALS) return multiple * magnitude;
  }
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"]/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;" })[c]!);
}

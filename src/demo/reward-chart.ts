/** A reward curve as a standalone SVG: training reward per step and validation reward where measured, on a 0–1 scale. */

export interface CurvePoint {
  step: number;
  train: number | null;
  val?: number | null;
}

const WIDTH = 640;
const HEIGHT = 360;
const MARGIN = { left: 56, right: 120, top: 40, bottom: 48 };

export function rewardChartSvg(points: readonly CurvePoint[], title: string): string {
  const lastStep = Math.max(1, ...points.map((p) => p.step));
  const x = (step: number) => MARGIN.left + (step / lastStep) * (WIDTH - MARGIN.left - MARGIN.right);
  const y = (reward: number) => HEIGHT - MARGIN.bottom - Math.max(0, Math.min(1, reward)) * (HEIGHT - MARGIN.top - MARGIN.bottom);
  const line = (values: Array<[number, number]>) => values.map(([s, r], i) => `${i === 0 ? "M" : "L"}${x(s).toFixed(1)},${y(r).toFixed(1)}`).join(" ");
  const train = points.filter((p): p is CurvePoint & { train: number } => p.train !== null).map((p): [number, number] => [p.step, p.train]);
  const val = points.filter((p) => typeof p.val === "number").map((p): [number, number] => [p.step, p.val as number]);
  const grid = [0, 0.25, 0.5, 0.75, 1]
    .map((r) => `<line x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${y(r)}" y2="${y(r)}" stroke="#ddd"/><text x="${MARGIN.left - 8}" y="${y(r) + 4}" text-anchor="end">${r.toFixed(2)}</text>`)
    .join("");
  const ticks = Array.from(new Set([0, Math.round(lastStep / 4), Math.round(lastStep / 2), Math.round((3 * lastStep) / 4), lastStep]))
    .map((s) => `<text x="${x(s)}" y="${HEIGHT - MARGIN.bottom + 18}" text-anchor="middle">${s}</text>`)
    .join("");
  const legendX = WIDTH - MARGIN.right + 16;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="${MARGIN.left}" y="24" font-size="14" font-weight="bold">${escapeXml(title)}</text>
${grid}${ticks}
<text x="${(MARGIN.left + WIDTH - MARGIN.right) / 2}" y="${HEIGHT - 10}" text-anchor="middle">step</text>
<text transform="translate(16 ${HEIGHT / 2}) rotate(-90)" text-anchor="middle">mean reward</text>
<path d="${line(train)}" fill="none" stroke="#4a7bd0" stroke-width="2"/>
<path d="${line(val)}" fill="none" stroke="#d0564a" stroke-width="2" stroke-dasharray="6 3"/>
${val.map(([s, r]) => `<circle cx="${x(s).toFixed(1)}" cy="${y(r).toFixed(1)}" r="3" fill="#d0564a"/>`).join("")}
<line x1="${legendX}" x2="${legendX + 24}" y1="${MARGIN.top + 10}" y2="${MARGIN.top + 10}" stroke="#4a7bd0" stroke-width="2"/><text x="${legendX + 30}" y="${MARGIN.top + 14}">train</text>
<line x1="${legendX}" x2="${legendX + 24}" y1="${MARGIN.top + 30}" y2="${MARGIN.top + 30}" stroke="#d0564a" stroke-width="2" stroke-dasharray="6 3"/><text x="${legendX + 30}" y="${MARGIN.top + 34}">validation</text>
</svg>
`;
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"]/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;" })[c]!);
}

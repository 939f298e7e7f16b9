/**
 * Line charts in plain SVG (no chart package: the dashboard stays small). Each chart has labelled
 * axes with ticks, a hover title per point, an aria-label that summarises each series for screen
 * readers, and the same numbers as a visually hidden table.
 */
import { h, s } from "./dom.js";
import type { ChartSpec, Series } from "./run-model.js";
import { integerTicks, niceTicks, number } from "./ticks.js";

const WIDTH = 520;
const HEIGHT = 220;
const MARGIN = { right: 14, top: 12, bottom: 42 };
const PLOT_H = HEIGHT - MARGIN.top - MARGIN.bottom;
/** Room left of the y tick labels (the rotated axis label) and per character of the widest label, at 11px. */
const Y_LABEL_ROOM = 26;
const CHAR_WIDTH = 6.6;

/**
 * A chart of `spec` against `xLabel` (steps) over `xDomain` (default: the data's own; charts drawn
 * side by side pass a shared one so their steps line up). A chart with no point yet says so.
 */
export function lineChart(spec: ChartSpec, xLabel = "step", xDomain?: [number, number]): HTMLElement {
  const points = spec.series.flatMap((series) => series.points);
  const figure = h("figure", { class: "chart", id: `chart-${spec.id}`, "data-chart": spec.id }, h("figcaption", {}, spec.title));
  if (points.length === 0) {
    figure.append(h("p", { class: "empty" }, "No values recorded yet."));
    return figure;
  }
  const xs = xDomain ?? extent(points.map((p) => p.x));
  const ys = extent(points.map((p) => p.y));
  const xTicks = integerTicks(xs[0], xs[1]);
  const yTicks = niceTicks(ys[0], ys[1]);
  // Wide tick labels (30,000) push the plot right instead of running into the axis label.
  const left = Y_LABEL_ROOM + 10 + CHAR_WIDTH * Math.max(...yTicks.map((t) => number(t).length));
  const plotW = WIDTH - left - MARGIN.right;
  const x = scale([xTicks[0]!, xTicks.at(-1)!], [left, left + plotW]);
  const y = scale([yTicks[0]!, yTicks.at(-1)!], [MARGIN.top + PLOT_H, MARGIN.top]);
  const bottom = MARGIN.top + PLOT_H;

  const svg = s(
    "svg",
    { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img", "aria-label": describe(spec, xLabel), preserveAspectRatio: "xMidYMid meet" },
    s("g", { class: "grid", "aria-hidden": "true" }, ...yTicks.map((t) => s("line", { x1: left, x2: left + plotW, y1: y(t), y2: y(t) }))),
    s(
      "g",
      { class: "axis axis-x" },
      s("line", { x1: left, x2: left + plotW, y1: bottom, y2: bottom }),
      ...xTicks.map((t) => s("g", { class: "tick" }, s("line", { x1: x(t), x2: x(t), y1: bottom, y2: bottom + 4 }), s("text", { x: x(t), y: bottom + 16, "text-anchor": "middle" }, String(t)))),
      s("text", { class: "label", x: left + plotW / 2, y: HEIGHT - 6, "text-anchor": "middle" }, xLabel),
    ),
    s(
      "g",
      { class: "axis axis-y" },
      s("line", { x1: left, x2: left, y1: MARGIN.top, y2: bottom }),
      ...yTicks.map((t) => s("g", { class: "tick" }, s("line", { x1: left - 4, x2: left, y1: y(t), y2: y(t) }), s("text", { x: left - 7, y: y(t) + 4, "text-anchor": "end" }, number(t)))),
      s("text", { class: "label", transform: `translate(13 ${MARGIN.top + PLOT_H / 2}) rotate(-90)`, "text-anchor": "middle" }, spec.yLabel),
    ),
    ...spec.series.map((series, i) => seriesGroup(series, i, x, y, xLabel)),
  );
  figure.append(svg);
  if (spec.series.length > 1) figure.append(legend(spec.series));
  figure.append(dataTable(spec, xLabel));
  return figure;
}

function seriesGroup(series: Series, index: number, x: (v: number) => number, y: (v: number) => number, xLabel: string): SVGElement {
  const sorted = [...series.points].sort((a, b) => a.x - b.x);
  const d = sorted.map((p, i) => `${i === 0 ? "M" : "L"}${round(x(p.x))} ${round(y(p.y))}`).join(" ");
  return s(
    "g",
    { class: `series series-${index % 6}`, "data-series": series.name },
    sorted.length > 1 ? s("path", { class: "line", d }) : null,
    ...sorted.map((p) => s("circle", { class: "point", cx: round(x(p.x)), cy: round(y(p.y)), r: 3 }, s("title", {}, `${series.name} at ${xLabel} ${p.x}: ${number(p.y)}`))),
  );
}

function legend(series: readonly Series[]): HTMLElement {
  return h("ul", { class: "legend", "aria-hidden": "true" }, ...series.map((item, i) => h("li", { class: `series-${i % 6}` }, h("span", { class: "swatch" }), item.name)));
}

/** The chart's numbers for screen readers: a row per step, a column per series. */
function dataTable(spec: ChartSpec, xLabel: string): HTMLTableElement {
  const xs = [...new Set(spec.series.flatMap((series) => series.points.map((p) => p.x)))].sort((a, b) => a - b);
  const lookup = spec.series.map((series) => new Map(series.points.map((p) => [p.x, p.y])));
  return h(
    "table",
    { class: "visually-hidden" },
    h("caption", {}, `${spec.title}: values per ${xLabel}`),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, xLabel), ...spec.series.map((series) => h("th", { scope: "col" }, series.name)))),
    h("tbody", {}, ...xs.map((v) => h("tr", {}, h("th", { scope: "row" }, v), ...lookup.map((values) => h("td", {}, values.has(v) ? number(values.get(v)!) : "—"))))),
  );
}

/** What a screen reader says for the chart: per series its count, first, last, lowest and highest values. */
function describe(spec: ChartSpec, xLabel: string): string {
  const parts = spec.series.map((series) => {
    if (series.points.length === 0) return `${series.name}: no values`;
    const sorted = [...series.points].sort((a, b) => a.x - b.x);
    const values = sorted.map((p) => p.y);
    const first = sorted[0]!;
    const last = sorted.at(-1)!;
    return `${series.name}: ${sorted.length} point${sorted.length === 1 ? "" : "s"}, ${number(first.y)} at ${xLabel} ${first.x} to ${number(last.y)} at ${xLabel} ${last.x}, range ${number(Math.min(...values))} to ${number(Math.max(...values))}`;
  });
  return `${spec.title} (${spec.yLabel}) by ${xLabel}. ${parts.join("; ")}.`;
}

function extent(values: readonly number[]): [number, number] {
  return [Math.min(...values), Math.max(...values)];
}

function scale([d0, d1]: [number, number], [r0, r1]: [number, number]): (v: number) => number {
  const span = d1 - d0 || 1;
  return (v) => r0 + ((v - d0) / span) * (r1 - r0);
}

const round = (v: number) => Math.round(v * 10) / 10;

/** The demo: a treasure-hunting agent trained with RL against the reference backend, end to end on CPU. */
export { runDemo, type DemoOptions, type DemoResult } from "./run-demo.js";
export { ACTIONS, BOXES, COLOURS, KEEPERS, makeTasks, request, score, treasureHunter, type Clue, type Keeper, type TreasureTask } from "./treasure-boxes.js";
export { rewardChartSvg, roundTicks, type ChartOptions, type CurvePoint } from "./reward-chart.js";

/**
 * The dashboard's entry: checks the token (no data is shown without the store's consent), then
 * shows the page the address names — `#/` rollouts, `#/trace/<rolloutId>/<attemptId>[?agents=a,b]` a trace,
 * `#/runs[/<runId>]` training runs, `#/resources[/<resourcesId>]` the resources versions, `#/runners` the workers.
 */
import { Api, Unauthorized } from "./api.js";
import { readToken, showLogin } from "./auth.js";
import { h, show } from "./dom.js";
import { Live } from "./live.js";
import { resourcesPage } from "./resources.js";
import { rolloutsPage } from "./rollouts.js";
import { runnersPage } from "./runners.js";
import { setUpTheme } from "./theme.js";
import { tracePage } from "./trace.js";
import { runPage } from "./run-page.js";
import { runsPage } from "./runs.js";

const main = document.getElementById("main") as HTMLElement;
const indicator = document.getElementById("live") as HTMLElement;
setUpTheme(document.getElementById("theme") as HTMLButtonElement);

let live: Live | undefined;

async function boot(): Promise<void> {
  live?.close();
  const token = readToken();
  const api = new Api(token);
  try {
    await api.get("/v1/stats");
  } catch (error) {
    if (error instanceof Unauthorized) {
      showLogin(main, token === undefined ? undefined : "That token was refused by the store server.", () => void boot());
      return;
    }
    show(main, h("p", { class: "error", role: "alert" }, `The store server did not answer: ${error instanceof Error ? error.message : String(error)}`));
    return;
  }
  const session = new Live(api, indicator);
  live = session;
  session.start();
  let leave = route(api, session);
  window.addEventListener("hashchange", () => {
    leave();
    leave = route(api, session);
    main.focus();
  });
}

/** Shows the page the address names; returns what stops it. */
function route(api: Api, session: Live): () => void {
  markNav();
  const trace = /^#\/trace\/([^/?]+)\/([^/?]+)(?:\?(.*))?$/.exec(location.hash);
  if (trace) return tracePage(main, api, session, decodeURIComponent(trace[1]!), decodeURIComponent(trace[2]!), new URLSearchParams(trace[3] ?? ""));
  const run = /^#\/runs(?:\/([^/]+))?$/.exec(location.hash);
  if (run) return run[1] === undefined ? runsPage(main, api, session) : runPage(main, api, session, decodeURIComponent(run[1]));
  const resources = /^#\/resources(?:\/([^/?]+))?$/.exec(location.hash);
  if (resources) return resourcesPage(main, api, session, resources[1] === undefined ? undefined : decodeURIComponent(resources[1]));
  if (location.hash === "#/runners") return runnersPage(main, api, session);
  return rolloutsPage(main, api, session);
}

/** Marks the nav link of the page the address names (`aria-current`); a trace belongs to none. */
function markNav(): void {
  const page = /^#\/(resources|runners|runs)\b/.exec(location.hash)?.[1] ?? (location.hash.startsWith("#/trace/") ? undefined : "rollouts");
  for (const link of document.querySelectorAll<HTMLAnchorElement>("nav.pages a")) {
    if (link.dataset.page === page) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

void boot();

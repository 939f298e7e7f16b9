/**
 * How the token reaches the page: a link `/#token=…` (what `tracetrain dashboard` prints) or the
 * login form. It is kept in sessionStorage (this tab only) and taken out of the address bar at
 * once, so it is not left in history or in a screenshot.
 */
import { h, show } from "./dom.js";

const KEY = "tracetrain.token";

/** The token from the address (which it then removes) or from this tab's storage. */
export function readToken(): string | undefined {
  const match = /^#token=([^&]*)/.exec(location.hash);
  if (match) {
    const token = decodeURIComponent(match[1] ?? "");
    history.replaceState(null, "", `${location.pathname}${location.search}#/`);
    if (token !== "") sessionStorage.setItem(KEY, token);
    return token === "" ? undefined : token;
  }
  return sessionStorage.getItem(KEY) ?? undefined;
}

/** Shows only the login form; `problem` says why it is shown again (a wrong token). */
export function showLogin(main: HTMLElement, problem: string | undefined, onToken: () => void): void {
  const input = h("input", { id: "token", name: "token", type: "password", autocomplete: "off", required: true });
  const form = h(
    "form",
    { class: "login", "aria-labelledby": "login-title" },
    h("h1", { id: "login-title" }, "Sign in to the store"),
    h("p", {}, "This store server needs its token. Give the one it was started with (--token or TRACETRAIN_TOKEN)."),
    h("label", { for: "token" }, "Token"),
    input,
    h("button", { type: "submit" }, "Open dashboard"),
    problem === undefined ? null : h("p", { class: "error", role: "alert" }, problem),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(KEY, input.value);
    onToken();
  });
  show(main, form);
  input.focus();
}

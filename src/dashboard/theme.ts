/** The theme toggle: auto (the system's), light or dark; remembered in this browser. */

const KEY = "tracetrain.theme";
const ORDER = ["auto", "light", "dark"] as const;
type Theme = (typeof ORDER)[number];

export function setUpTheme(button: HTMLButtonElement): void {
  let theme: Theme = (ORDER as readonly string[]).includes(localStorage.getItem(KEY) ?? "") ? (localStorage.getItem(KEY) as Theme) : "auto";
  const apply = () => {
    if (theme === "auto") delete document.documentElement.dataset.theme;
    else document.documentElement.dataset.theme = theme;
    button.textContent = `Theme: ${theme}`;
  };
  button.addEventListener("click", () => {
    theme = ORDER[(ORDER.indexOf(theme) + 1) % ORDER.length]!;
    localStorage.setItem(KEY, theme);
    apply();
  });
  apply();
}

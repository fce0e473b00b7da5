// The page's theme is the chat's (a plain script in the page's head, so the first paint is already
// in it). Chainlit keeps the user's choice in localStorage under "vite-ui-theme": "dark", "light",
// or "system" (the system's: prefers-color-scheme). With no choice stored, Chainlit shows its
// default theme, dark (.chainlit/config.toml leaves `default_theme` at that default), whatever the
// system prefers. The page follows a choice made later too: in the chat in another tab, or in
// the system's settings.
(() => {
  const STORAGE_KEY = "vite-ui-theme";
  const CHAT_DEFAULT = "dark";
  const systemDark = matchMedia("(prefers-color-scheme: dark)");

  function apply() {
    let chosen = null;
    try {
      chosen = localStorage.getItem(STORAGE_KEY);
    } catch {
      // storage refused (a privacy setting): the chat cannot keep a choice either
    }
    chosen ??= CHAT_DEFAULT;
    const theme = chosen === "dark" || chosen === "light" ? chosen : systemDark.matches ? "dark" : "light";
    document.documentElement.dataset.theme = theme;
  }

  apply();
  systemDark.addEventListener("change", apply);
  addEventListener("storage", (event) => {
    if (event.key === STORAGE_KEY || event.key === null) apply();
  });
})();

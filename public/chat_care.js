// Fixes to Chainlit 2.12's page that its configuration cannot make (loaded as UI.custom_js).
(() => {
  "use strict";

  // Deleting the chat that is open: Chainlit clears it, but resumes it again before the delete
  // and then puts its address back, so the deleted chat stays on screen with a working
  // composer. Once the server has deleted it, start a new chat from a clean page.
  const openThread = () => {
    const match = window.location.pathname.match(/\/thread\/([^/]+)$/);
    return match ? decodeURIComponent(match[1]) : null;
  };
  const originalFetch = window.fetch.bind(window);
  window.fetch = async (input, init) => {
    const response = await originalFetch(input, init);
    try {
      const url = typeof input === "string" ? input : input.url;
      const method = (init && init.method) || (typeof input === "string" ? "GET" : input.method);
      if (method.toUpperCase() === "DELETE" && /\/project\/thread$/.test(new URL(url, window.location.href).pathname) && response.ok) {
        const deleted = JSON.parse((init && init.body) || "{}").threadId;
        if (deleted && deleted === openThread()) {
          window.location.replace(window.location.pathname.replace(/\/thread\/[^/]+$/, "/"));
        }
      }
    } catch (error) {
      console.warn("chat_care: delete check failed", error);
    }
    return response;
  };

  // A message sent with only files has no text: Chainlit still draws its (empty) bubble under
  // the files. Hide such a bubble; it comes back if the message gets text.
  const tidy = () => {
    for (const bubble of document.querySelectorAll(
      '[data-step-type="user_message"] .bg-accent.rounded-3xl'
    )) {
      const empty = !bubble.querySelector("#edit-chat-input") && !bubble.innerText.trim();
      if (empty !== bubble.hidden) bubble.hidden = empty;
    }
  };

  let scheduled = false;
  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(() => {
      scheduled = false;
      tidy();
    });
  };
  const watch = () => {
    new MutationObserver(schedule).observe(document.body, {
      childList: true,
      subtree: true,
      characterData: true,
    });
    schedule();
  };
  if (document.body) watch();
  else document.addEventListener("DOMContentLoaded", watch);
})();

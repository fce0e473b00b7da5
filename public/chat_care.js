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
  // The chat session this tab is connected to: Chainlit's page sends its id to
  // /set-session-cookie each time it connects (a new chat, a resumed one, a reconnection).
  let sessionId = null;
  const originalFetch = window.fetch.bind(window);
  window.fetch = async (input, init) => {
    const isRequest = input instanceof Request;
    const url = new URL(isRequest ? input.url : String(input), window.location.href);
    const method = ((init && init.method) || (isRequest ? input.method : "GET")).toUpperCase();
    if (method === "POST" && /\/set-session-cookie$/.test(url.pathname)) {
      try {
        const connected = JSON.parse((init && init.body) || "{}").session_id;
        if (connected && connected !== sessionId) {
          sessionId = connected;
          documents.refresh();
        }
      } catch (error) {
        console.warn("chat_care: no session id", error);
      }
    }
    const response = await originalFetch(input, init);
    try {
      if (method === "DELETE" && /\/project\/thread$/.test(url.pathname) && response.ok) {
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
  const tidyBubbles = () => {
    for (const bubble of document.querySelectorAll(
      '[data-step-type="user_message"] .bg-accent.rounded-3xl'
    )) {
      const empty = !bubble.querySelector("#edit-chat-input") && !bubble.innerText.trim();
      if (empty !== bubble.hidden) bubble.hidden = empty;
    }
  };

  // The app's words for this page (ui_text.PAGE_TEXTS), in the browser's language as Chainlit
  // picks it.
  const korean = (navigator.language || "").toLowerCase().split("-")[0] === "ko";
  let texts = null;
  const root = (() => {
    const script = document.currentScript;
    const path = script ? new URL(script.src, window.location.href).pathname : "";
    return path.replace(/\/public\/chat_care\.js$/, "");
  })();
  originalFetch(`${root}/chat-page/texts.json`)
    .then((response) => (response.ok ? response.json() : null))
    .then((all) => {
      texts = all && (korean ? all.ko : all.en);
      schedule(document.body);
      documents.refresh();
    })
    .catch((error) => console.warn("chat_care: no page texts", error));

  // Chainlit's own English that its translations do not reach.
  const ATTRIBUTES = ["aria-label", "title", "alt", "placeholder"];
  let patterns = null;
  const replaced = (text) => {
    const replace = texts.replace;
    if (Object.hasOwn(replace, text)) return replace[text];
    patterns = patterns || texts.patterns.map(([from, to]) => [new RegExp(from), to]);
    for (const [from, to] of patterns) if (from.test(text)) return text.replace(from, to);
    return null;
  };
  const replaceIn = (node) => {
    const replace = texts && texts.replace;
    if (!replace) return;
    if (node.nodeType === Node.TEXT_NODE) {
      if (node.parentElement && node.parentElement.closest(".message-content")) return;
      const text = node.nodeValue.trim();
      const now = text && replaced(text);
      if (now) node.nodeValue = now;
      return;
    }
    if (node.nodeType !== Node.ELEMENT_NODE) return;
    const walker = document.createTreeWalker(node, NodeFilter.SHOW_ELEMENT | NodeFilter.SHOW_TEXT);
    for (let current = node; current; current = walker.nextNode()) {
      if (current.nodeType === Node.TEXT_NODE) {
        if (current.parentElement && current.parentElement.closest(".message-content")) continue;
        const text = current.nodeValue.trim();
        const now = text && replaced(text);
        if (now) current.nodeValue = now;
        continue;
      }
      if (current.closest(".message-content")) continue; // the chat's own words stay
      for (const name of ATTRIBUTES) {
        const value = current.getAttribute(name);
        const now = value && value.trim() && replaced(value.trim());
        if (now) current.setAttribute(name, now);
      }
    }
  };

  // Editing an earlier message answers it again and drops every later turn (Chainlit's edit):
  // say so in the edit box before it is saved.
  const MESSAGES = '[data-step-type="user_message"], [data-step-type="assistant_message"]';
  const warnEdits = () => {
    const input = document.querySelector("#edit-chat-input");
    const existing = document.querySelector("[data-edit-warning]");
    if (!input || !texts) {
      if (existing) existing.remove();
      return;
    }
    const step = input.closest('[data-step-type="user_message"]');
    const all = [...document.querySelectorAll(MESSAGES)];
    const later = step ? all.length - all.indexOf(step) - 1 : 0;
    if (later <= 0) {
      if (existing) existing.remove();
      return;
    }
    const text =
      later === 1 ? texts.edit_drops_one : texts.edit_drops_later.replace("{count}", later);
    if (existing && existing.textContent === text) return;
    const warning = existing || document.createElement("p");
    warning.dataset.editWarning = "";
    warning.setAttribute("role", "note");
    warning.className = "text-sm text-muted-foreground mt-1";
    warning.textContent = `⚠️ ${text}`;
    if (!existing) input.insertAdjacentElement("afterend", warning);
  };

  // The chat's documents, above the composer: each its name, its pages or size, and a button
  // that removes it from the chat (ui/document_list.py). Listed again whenever the tab connects
  // and after every turn (a message's files are read during its turn).
  const documents = (() => {
    let listed = [];
    let asking = 0;
    const size = (item) => {
      if (item.pages) {
        return item.pages === 1
          ? texts.document_page
          : texts.document_pages.replace("{pages}", item.pages);
      }
      const bytes = item.bytes;
      if (bytes === null || bytes === undefined) {
        return texts.document_chars.replace("{chars}", item.chars.toLocaleString());
      }
      if (bytes < 1024) return `${bytes} B`;
      const [value, unit] = bytes < 1024 * 1024 ? [bytes / 1024, "KB"] : [bytes / 1048576, "MB"];
      return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${unit}`;
    };
    const address = (tail) =>
      `${root}/chat-documents${tail}?session=${encodeURIComponent(sessionId)}`;
    // The page names its session before its socket connects: until the server knows the
    // session (404), it is asked again a few times, a little later each time.
    const refresh = async (attempt = 0) => {
      const asked = ++asking;
      if (!sessionId) return;
      let response;
      try {
        response = await originalFetch(address(""), { credentials: "same-origin" });
      } catch (error) {
        console.warn("chat_care: the chat's documents could not be listed", error);
        return;
      }
      if (asked !== asking) return; // a later refresh answers instead
      if (response.status === 404 && attempt < 6) {
        setTimeout(() => asked === asking && refresh(attempt + 1), 200 * 2 ** attempt);
        return;
      }
      try {
        listed = response.ok ? (await response.json()).documents || [] : [];
      } catch (error) {
        console.warn("chat_care: the chat's documents came in an unknown form", error);
        listed = [];
      }
      draw();
    };
    const remove = async (item, button, bar) => {
      button.disabled = true;
      let removed = false;
      try {
        const response = await originalFetch(address(`/${encodeURIComponent(item.id)}`), {
          method: "DELETE",
          credentials: "same-origin",
        });
        removed = response.ok;
      } catch (error) {
        console.warn("chat_care: removing a document failed", error);
      }
      if (!removed) {
        button.disabled = false;
        const failed = bar.querySelector("[data-documents-failed]");
        failed.textContent = texts.remove_failed.replace("{name}", item.name);
        failed.hidden = false;
        return;
      }
      await refresh();
    };
    const draw = () => {
      const composer = document.querySelector("#message-composer");
      let bar = document.querySelector("#chat-documents");
      if (!composer || !texts || !listed.length) {
        if (bar) bar.remove();
        return;
      }
      if (!bar || bar.nextElementSibling !== composer) {
        if (bar) bar.remove();
        bar = document.createElement("div");
        bar.id = "chat-documents";
        bar.className = "flex flex-wrap items-center gap-2 mb-2 w-full text-sm";
        composer.insertAdjacentElement("beforebegin", bar);
      }
      const shown = JSON.stringify(listed) + (texts.documents || "");
      if (bar.dataset.shown === shown) return;
      bar.dataset.shown = shown;
      bar.replaceChildren();
      bar.setAttribute("role", "list");
      bar.setAttribute("aria-label", texts.documents);
      for (const item of listed) {
        const chip = document.createElement("span");
        chip.setAttribute("role", "listitem");
        chip.dataset.document = item.id;
        chip.className =
          "inline-flex items-center gap-1 rounded-full border bg-card px-3 py-1 max-w-xs";
        const name = document.createElement("span");
        name.className = "truncate font-medium";
        name.textContent = item.name;
        name.title = item.name;
        const about = document.createElement("span");
        about.className = "text-muted-foreground whitespace-nowrap";
        about.textContent = size(item);
        const button = document.createElement("button");
        button.type = "button";
        button.className = "inline-flex items-center justify-center rounded-full w-5 h-5 " +
          "shrink-0 cursor-pointer text-muted-foreground";
        const label = texts.remove_document.replace("{name}", item.name);
        button.setAttribute("aria-label", label);
        button.title = label;
        button.textContent = "×";
        button.addEventListener("click", () => remove(item, button, bar));
        chip.append(name, about, button);
        bar.append(chip);
      }
      const failed = document.createElement("span");
      failed.dataset.documentsFailed = "";
      failed.setAttribute("role", "alert");
      failed.className = "text-destructive";
      failed.hidden = true;
      bar.append(failed);
    };
    // Listed again when the chat's messages change in number (a file's "ready" line is one,
    // a removal's line another) and once the chat has started or resumed (its settings arrive
    // then, and its session is known); a burst of changes asks once.
    let messages = -1;
    let ready = false;
    let soon = null;
    const watchTurns = () => {
      const now = document.querySelectorAll(MESSAGES).length;
      const started = document.querySelector("#chat-settings-open-modal") !== null;
      if ((now !== messages && messages !== -1) || (started && !ready)) {
        clearTimeout(soon);
        soon = setTimeout(refresh, 300);
      }
      messages = now;
      ready = started;
      draw();
    };
    return { refresh, watchTurns };
  })();

  // Enter in the rename dialog's name field confirms it (Chainlit only has a button).
  document.addEventListener(
    "keydown",
    (event) => {
      const field = event.target;
      if (event.key !== "Enter" || event.isComposing || !field || field.id !== "name") return;
      const dialog = field.closest('[role="dialog"]');
      const buttons = dialog ? dialog.querySelectorAll("button:not([disabled])") : [];
      const confirm = [...buttons].filter((button) => !button.querySelector("svg")).pop();
      if (!confirm) return;
      event.preventDefault();
      confirm.click();
    },
    true
  );

  let pending = [];
  let scheduled = false;
  const schedule = (...nodes) => {
    pending.push(...nodes);
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(() => {
      scheduled = false;
      const nodes = pending;
      pending = [];
      for (const node of nodes) if (node.isConnected) replaceIn(node);
      tidyBubbles();
      warnEdits();
      documents.watchTurns();
    });
  };
  const watch = () => {
    new MutationObserver((records) => {
      const nodes = [];
      for (const record of records) {
        if (record.type === "characterData") nodes.push(record.target);
        else nodes.push(...record.addedNodes);
      }
      schedule(...nodes);
    }).observe(document.body, { childList: true, subtree: true, characterData: true });
    schedule(document.body);
  };
  if (document.body) watch();
  else document.addEventListener("DOMContentLoaded", watch);
})();

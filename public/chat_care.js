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

  // Editing an earlier message answers it again; its later turns stay with the question's
  // earlier version (ui/question_versions.py): say so in the edit box before it is saved.
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
      later === 1 ? texts.edit_keeps_one : texts.edit_keeps_later.replace("{count}", later);
    if (existing && existing.textContent === text) return;
    const warning = existing || document.createElement("p");
    warning.dataset.editWarning = "";
    warning.setAttribute("role", "note");
    warning.className = "text-sm text-muted-foreground mt-1";
    warning.textContent = `ℹ️ ${text}`;
    if (!existing) input.insertAdjacentElement("afterend", warning);
  };

  // The welcome screen opens at its top. Chainlit scrolls its message list to the bottom when
  // it appears and on every resize, which on a phone showed the welcome from its middle (the
  // Korean one began mid-sentence). Until the user moves it, the list stays at its top while
  // it shows a welcome; the composer stays in view all the same (chat_care.css).
  let welcomeHeld = null; // the welcome screen being held at its top
  let welcomeMoved = false; // the user scrolled it (or started typing): hands off
  const welcomeList = () => {
    const welcome = document.querySelector("#welcome-screen");
    const list = welcome && welcome.parentElement && welcome.parentElement.parentElement;
    if (welcome !== welcomeHeld) {
      welcomeHeld = welcome;
      welcomeMoved = false;
    }
    return list;
  };
  const holdWelcomeAtTop = () => {
    const list = welcomeList();
    if (list && !welcomeMoved && list.scrollTop !== 0) list.scrollTop = 0;
  };
  document.addEventListener(
    "scroll",
    (event) => {
      if (event.target === welcomeList()) holdWelcomeAtTop();
    },
    true
  );
  for (const type of ["wheel", "touchmove", "pointerdown", "keydown"]) {
    document.addEventListener(
      type,
      (event) => {
        const list = welcomeList();
        if (list && event.target instanceof Node && list.contains(event.target)) welcomeMoved = true;
      },
      { capture: true, passive: true }
    );
  }

  // On a phone the header has no room for the readme button and the header links (they pushed
  // the theme toggle and the user menu off the screen): chat_care.css hides them there, and a
  // menu button in their place offers them.
  const MENU_ICON =
    '<svg xmlns="http://www.w3.org/2000/svg" width="24" height="24" viewBox="0 0 24 24" ' +
    'fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" ' +
    'stroke-linejoin="round" aria-hidden="true"><circle cx="12" cy="12" r="1"/>' +
    '<circle cx="19" cy="12" r="1"/><circle cx="5" cy="12" r="1"/></svg>';
  const closeHeaderMenu = (refocus) => {
    const menu = document.getElementById("header-menu");
    const button = document.getElementById("header-menu-button");
    if (menu) menu.remove();
    if (button) button.setAttribute("aria-expanded", "false");
    if (refocus && button) button.focus();
  };
  const menuItem = (tag, label, icon) => {
    const item = document.createElement(tag);
    item.setAttribute("role", "menuitem");
    if (icon) {
      const image = document.createElement("img");
      image.src = icon;
      image.alt = "";
      item.append(image);
    }
    item.append(label);
    return item;
  };
  const openHeaderMenu = (button) => {
    const menu = document.createElement("div");
    menu.id = "header-menu";
    menu.setAttribute("role", "menu");
    menu.setAttribute("aria-label", button.getAttribute("aria-label"));
    const readme = document.querySelector("#header #readme-button");
    if (readme) {
      const item = menuItem("button", readme.textContent.trim(), null);
      item.type = "button";
      item.addEventListener("click", () => {
        closeHeaderMenu(false);
        readme.click();
      });
      menu.append(item);
    }
    for (const link of document.querySelectorAll("#header button > a[href]")) {
      const icon = link.querySelector("img");
      const item = menuItem("a", link.textContent.trim(), icon && icon.src);
      item.setAttribute("href", link.getAttribute("href"));
      item.target = link.target || "_self";
      menu.append(item);
    }
    const place = button.getBoundingClientRect();
    menu.style.top = `${place.bottom + 4}px`;
    menu.style.right = `${Math.max(8, window.innerWidth - place.right)}px`;
    document.body.append(menu);
    button.setAttribute("aria-expanded", "true");
    const first = menu.querySelector('[role="menuitem"]');
    if (first) first.focus();
  };
  document.addEventListener(
    "pointerdown",
    (event) => {
      const menu = document.getElementById("header-menu");
      const button = document.getElementById("header-menu-button");
      if (!menu || menu.contains(event.target) || (button && button.contains(event.target))) return;
      closeHeaderMenu(false);
    },
    true
  );
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && document.getElementById("header-menu")) closeHeaderMenu(true);
  });
  window.addEventListener("resize", () => closeHeaderMenu(false));
  const ensureHeaderMenu = () => {
    const anchor = document.querySelector("#header #theme-toggle");
    let button = document.getElementById("header-menu-button");
    const offered =
      document.querySelector("#header #readme-button") ||
      document.querySelector("#header button > a[href]");
    if (!anchor || !offered || !texts) {
      if (button) button.remove();
      return;
    }
    if (!button) {
      button = document.createElement("button");
      button.id = "header-menu-button";
      button.type = "button";
      button.setAttribute("aria-haspopup", "menu");
      button.setAttribute("aria-expanded", "false");
      button.innerHTML = MENU_ICON;
      button.addEventListener("click", () => {
        if (document.getElementById("header-menu")) closeHeaderMenu(false);
        else openHeaderMenu(button);
      });
    }
    button.className = anchor.className; // Chainlit's own icon button look
    button.setAttribute("aria-label", texts.header_menu);
    button.title = texts.header_menu;
    if (button.nextElementSibling !== anchor) anchor.before(button);
  };

  // "< n/m >" under a question shows another version: once it is shown, the question is in view
  // again (Chainlit scrolls to the last question that arrives, which hid the one switched).
  const VERSIONS = '[data-testid="question-versions"]';
  let switched = null; // {step, before}: the question switched, and the version it showed
  document.addEventListener(
    "click",
    (event) => {
      const button = event.target instanceof Element && event.target.closest(`${VERSIONS} button`);
      if (!button) return;
      const step = button.closest("[data-step-type]");
      switched = step && { step, before: button.closest(VERSIONS).textContent };
    },
    true
  );
  const keepSwitchedInView = () => {
    if (!switched) return;
    const { step, before } = switched;
    const versions = step.isConnected && step.querySelector(VERSIONS);
    if (!versions) {
      switched = null;
      return;
    }
    const running = document.querySelector("#stop-button") || !document.querySelector("#chat-submit");
    if (versions.textContent === before || running) return; // not shown yet, or still coming
    switched = null;
    step.scrollIntoView({ block: "start" });
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

  // A chat's export and the import of an exported one (server/chat_transfer.py): "Export as
  // Markdown" and "Export as JSON" in each chat's menu in the sidebar, "Import a chat…" in the
  // user menu. Chainlit's menus (Radix) are drawn when opened: the items are added then, made
  // like the menu's own.
  const language = korean ? "ko" : "en";
  // Closes the menu as a click on its button does (Radix toggles it on pointerdown; an Escape
  // would close a tooltip open above it first).
  const closeMenu = (trigger) =>
    trigger.dispatchEvent(
      new PointerEvent("pointerdown", { bubbles: true, button: 0, pointerType: "mouse" })
    );
  const transferItem = (trigger, template, id, label, onSelect) => {
    const item = document.createElement("div");
    item.setAttribute("role", "menuitem");
    item.id = id;
    item.className = template.className;
    item.style.whiteSpace = "nowrap";
    item.tabIndex = -1;
    item.dataset.chatTransfer = "";
    const text = document.createElement("span");
    text.textContent = label;
    item.append(text);
    const select = (event) => {
      // Not on to React: the menu is drawn inside the chat's link in the sidebar.
      event.preventDefault();
      event.stopPropagation();
      closeMenu(trigger);
      onSelect();
    };
    item.addEventListener("click", select);
    item.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") select(event);
    });
    item.addEventListener("pointermove", () => item.focus());
    return item;
  };
  const download = (thread, format) => {
    const link = document.createElement("a");
    link.href =
      `${root}/chat-transfer/export/${encodeURIComponent(thread)}` +
      `?format=${format}&lang=${language}`;
    link.download = "";
    document.body.append(link);
    link.click();
    link.remove();
  };
  // Returns whether an open menu could not be told yet (its button not linked to it yet).
  const addTransferItems = () => {
    if (!texts) return false;
    let pending = false;
    for (const menu of document.querySelectorAll('[role="menu"][data-state="open"]')) {
      if (menu.querySelector("[data-chat-transfer]")) continue;
      const trigger = menu.id && document.querySelector(`[aria-controls="${CSS.escape(menu.id)}"]`);
      if (!trigger) {
        pending = true;
        continue;
      }
      if (trigger.id === "thread-options") {
        const thread = trigger.closest('li[id^="thread-"]');
        const rename = menu.querySelector("#rename-thread");
        if (!thread || !rename) continue;
        const id = thread.id.slice("thread-".length);
        menu.style.width = "auto";
        rename.after(
          transferItem(trigger, rename, "export-thread-md", texts.export_markdown, () =>
            download(id, "md")
          ),
          transferItem(trigger, rename, "export-thread-json", texts.export_json, () =>
            download(id, "json")
          )
        );
      } else if (trigger.id === "user-nav-button") {
        const items = menu.querySelectorAll('[role="menuitem"]');
        const last = items[items.length - 1]; // sign out
        if (!last) continue;
        last.before(transferItem(trigger, last, "import-chat", texts.import_chat, chooseFile));
      }
    }
    return pending;
  };
  let menuTries = 0;
  const addTransferItemsSoon = () => {
    if (addTransferItems() && menuTries < 60) {
      menuTries += 1;
      requestAnimationFrame(addTransferItemsSoon);
    } else {
      menuTries = 0;
    }
  };

  const fileInput = document.createElement("input");
  fileInput.type = "file";
  fileInput.accept = ".json,application/json";
  fileInput.id = "import-chat-input";
  fileInput.hidden = true;
  const chooseFile = () => {
    if (!fileInput.isConnected) document.body.append(fileInput);
    fileInput.value = "";
    fileInput.click();
  };
  fileInput.addEventListener("change", async () => {
    const file = fileInput.files && fileInput.files[0];
    if (!file) return;
    const megabytes = String(texts.import_max_bytes / 1024 / 1024);
    if (file.size > texts.import_max_bytes) {
      showDialog(texts.import_too_large.replace("{limit}", megabytes));
      return;
    }
    const dialog = showDialog(texts.importing.replace("{file}", file.name), true);
    let response;
    try {
      response = await originalFetch(`${root}/chat-transfer/import?lang=${language}`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: file,
        credentials: "same-origin",
      });
    } catch (error) {
      dialog.say(texts.import_no_answer.replace("{status}", String(error)));
      return;
    }
    if (response.status === 201) {
      const imported = await response.json();
      window.location.assign(`${root}/thread/${encodeURIComponent(imported.thread_id)}`);
      return;
    }
    let detail = null;
    try {
      detail = (await response.json()).detail;
    } catch (error) {
      detail = null;
    }
    if (response.status === 413) detail = texts.import_too_large.replace("{limit}", megabytes);
    if (typeof detail !== "string") {
      detail = texts.import_no_answer.replace("{status}", String(response.status));
    }
    dialog.say(detail);
  });

  // A dialog of the app's own over the page: what became of an import. `code` in the text (a
  // field of the file) is shown as code.
  const showDialog = (message, busy = false) => {
    for (const old of document.querySelectorAll("[data-chat-transfer-dialog]")) old.remove();
    const overlay = document.createElement("div");
    overlay.dataset.chatTransferDialog = "";
    overlay.style.cssText =
      "position:fixed;inset:0;z-index:60;display:flex;align-items:flex-start;" +
      "justify-content:center;padding-top:20vh;background:rgba(0,0,0,.5)";
    const box = document.createElement("div");
    box.setAttribute("role", "alertdialog");
    box.setAttribute("aria-modal", "true");
    box.setAttribute("aria-labelledby", "chat-transfer-title");
    box.setAttribute("aria-describedby", "chat-transfer-text");
    box.style.cssText =
      "max-width:32rem;width:calc(100% - 2rem);padding:1.5rem;border-radius:.5rem;" +
      "background:hsl(var(--background));color:hsl(var(--foreground));" +
      "border:1px solid hsl(var(--border));box-shadow:0 10px 30px rgba(0,0,0,.3)";
    const title = document.createElement("h2");
    title.id = "chat-transfer-title";
    title.style.cssText = "font-size:1.125rem;font-weight:600;margin-bottom:.75rem";
    title.textContent = texts.import_title;
    const text = document.createElement("p");
    text.id = "chat-transfer-text";
    text.style.cssText = "font-size:.875rem;line-height:1.5;overflow-wrap:anywhere";
    const ok = document.createElement("button");
    ok.type = "button";
    ok.textContent = texts.ok;
    ok.style.cssText =
      "margin-top:1.25rem;padding:.5rem 1rem;border-radius:.375rem;font-size:.875rem;" +
      "background:hsl(var(--primary));color:hsl(var(--primary-foreground))";
    const close = () => overlay.remove();
    ok.addEventListener("click", close);
    overlay.addEventListener("keydown", (event) => {
      if (event.key === "Escape") close();
    });
    const say = (said, waiting = false) => {
      text.replaceChildren();
      said.split("`").forEach((part, index) => {
        if (!part) return;
        const piece = document.createElement(index % 2 ? "code" : "span");
        piece.textContent = part;
        text.append(piece);
      });
      text.setAttribute("aria-busy", String(waiting));
      ok.hidden = waiting;
      if (!waiting) ok.focus();
    };
    box.append(title, text, ok);
    overlay.append(box);
    document.body.append(overlay);
    say(message, busy);
    return { say };
  };

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
      holdWelcomeAtTop();
      ensureHeaderMenu();
      keepSwitchedInView();
      addTransferItemsSoon();
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

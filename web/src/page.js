// The /browser page: picks the execution provider, talks to the model's worker (worker.js), and
// shows the chat (answers as Markdown: markdown.js) and the digit demo. Its words come from the
// server (ui_text.BROWSER_TEXTS).

import { showMarkdown } from "./markdown.js";

const data = JSON.parse(document.getElementById("page-data").textContent);
const params = new URLSearchParams(location.search);
const language = (params.get("lang") || navigator.language || "en").toLowerCase().startsWith("ko")
  ? "ko"
  : "en";
const words = data.texts[language];
const $ = (id) => document.getElementById(id);

// Hangul: a message the bundled model cannot read (it writes English only).
const HANGUL = /[\u1100-\u11ff\u3130-\u318f\uac00-\ud7a3]/;

function say(key, fields = {}) {
  return words[key].replace(/\{(\w+)\}/g, (_, name) => String(fields[name] ?? ""));
}

function megabytes(bytes) {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

document.documentElement.lang = language;
for (const element of document.querySelectorAll("[data-text]")) {
  element.textContent = say(element.dataset.text);
}
for (const element of document.querySelectorAll("[data-placeholder]")) {
  element.placeholder = say(element.dataset.placeholder);
}

// What tests and the benchmark read (and drive: ask()).
const chat = {
  state: "starting",
  backend: null, // {ep, reason, adapter}
  source: null, // "cache" | "network" | "http-cache"
  messages: [],
  lastPrompt: "",
  lastStats: null,
  ask: null,
};
window.browserChat = chat;

function setState(state) {
  chat.state = state;
  document.body.dataset.state = state;
}

// WebGPU only on a real GPU: a fallback adapter (SwiftShader, a CPU rasteriser) is far slower
// than WASM, so it counts as no WebGPU.
async function chooseBackend() {
  const forced = params.get("ep");
  if (forced === "wasm" || forced === "webgpu") {
    return { ep: forced, reason: "forced", adapter: "" };
  }
  if (!navigator.gpu) return { ep: "wasm", reason: "no_webgpu", adapter: "" };
  let adapter = null;
  try {
    adapter = await navigator.gpu.requestAdapter();
  } catch (error) {
    console.warn("WebGPU requestAdapter failed:", error);
  }
  if (!adapter) return { ep: "wasm", reason: "no_adapter", adapter: "" };
  const info = adapter.info || {};
  const name = [info.vendor, info.architecture, info.description].filter(Boolean).join(" ");
  const fallback = info.isFallbackAdapter ?? adapter.isFallbackAdapter ?? false;
  if (fallback) return { ep: "wasm", reason: "fallback", adapter: name || "fallback" };
  return { ep: "webgpu", reason: "real", adapter: name || "GPU" };
}

function describeBackend(backend) {
  const texts = {
    forced: () => say("ep_forced", { ep: backend.ep === "webgpu" ? "WebGPU" : "WASM" }),
    no_webgpu: () => say("ep_wasm_no_webgpu"),
    no_adapter: () => say("ep_wasm_no_adapter"),
    fallback: () => say("ep_wasm_fallback", { adapter: backend.adapter }),
    real: () => say("ep_webgpu", { adapter: backend.adapter }),
  };
  return texts[backend.reason]();
}

function addMessage(role, text) {
  const item = document.createElement("li");
  item.className = role;
  const who = document.createElement("span");
  who.className = "who";
  who.textContent = say(role === "user" ? "you" : "assistant");
  const body = document.createElement(role === "user" ? "span" : "div");
  body.className = "text";
  if (role === "user") body.textContent = text;
  else showMarkdown(body, text);
  item.append(who, body);
  $("messages").append(item);
  item.scrollIntoView({ block: "end" });
  return body;
}

function setBusy(busy) {
  $("send").hidden = busy;
  $("stop").hidden = !busy;
  $("prompt").disabled = busy;
  $("new-chat").disabled = busy;
}

async function start() {
  if (data.missing.length) {
    $("missing").textContent = data.missing.map((part) => say(`missing_${part}`)).join("\n");
    $("missing").hidden = false;
    setState("unavailable");
    return;
  }
  $("chat").hidden = false;
  $("digits").hidden = false;
  const config = await (await fetch("browser/config.json")).json();
  const backend = await chooseBackend();
  chat.backend = backend;
  $("backend").textContent = describeBackend(backend);
  $("limits-text").textContent = say("limits", { tokens: config.max_tokens });
  const systemMessages = config.system_prompt.trim()
    ? [{ role: "system", content: config.system_prompt }]
    : [];
  chat.messages = [...systemMessages];

  const worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
  const pending = new Map(); // request id → {resolve, reject, ...}
  let nextId = 1;
  let answer = null; // the answer being written: {id, body, text, question}

  worker.onmessage = ({ data: message }) => {
    const request = pending.get(message.id);
    switch (message.type) {
      case "progress":
        $("download").max = message.total;
        $("download").value = message.loaded;
        $("download-text").textContent = say("downloading", {
          loaded: megabytes(message.loaded),
          total: megabytes(message.total),
        });
        break;
      case "starting":
        $("load-status").textContent = say("starting");
        break;
      case "ready": {
        chat.source = message.source;
        $("loading").hidden = true;
        $("load-status").textContent = say(`ready_${message.source.replace("-", "_")}`, {
          seconds: (message.loadMs / 1000).toFixed(1),
        });
        $("prompt").disabled = false;
        $("send").disabled = false;
        setState("ready");
        break;
      }
      case "token":
        if (answer && answer.id === message.id) {
          answer.text += message.text;
          showMarkdown(answer.body, answer.text);
        }
        break;
      case "done": {
        const stats = message.stats;
        chat.lastPrompt = message.prompt;
        chat.lastStats = stats;
        if (stats.loop) {
          // The worker's loop guard stopped it: the answer up to the first copy of what repeats.
          answer.text = stats.loop.keep;
          showMarkdown(answer.body, answer.text);
          const why = HANGUL.test(answer.question) ? "loop_stopped_no_korean" : "loop_stopped";
          answer.body.after(Object.assign(document.createElement("p"), {
            className: "notice loop-stopped", textContent: say(why),
          }));
        }
        chat.messages.push({ role: "assistant", content: answer.text });
        if (stats.stopped) answer.body.after(Object.assign(document.createElement("em"), {
          className: "stopped", textContent: ` ${say("stopped")}`,
        }));
        $("speed").textContent = say("speed", {
          first: (stats.firstTokenMs / 1000).toFixed(2),
          rate: stats.tokensPerSecond.toFixed(1),
          tokens: stats.tokens,
          ep: chat.backend.ep === "webgpu" ? "WebGPU" : "WASM",
        });
        answer = null;
        setBusy(false);
        setState("ready");
        request?.resolve({ text: chat.messages.at(-1).content, stats, prompt: message.prompt });
        pending.delete(message.id);
        break;
      }
      case "digits":
        request?.resolve(message.probabilities);
        pending.delete(message.id);
        break;
      case "warning":
        console.warn(message.message);
        break;
      case "error": {
        const text = say("failed", { error: message.message });
        if (answer) {
          answer.body.parentElement.classList.add("error");
          answer.body.after(Object.assign(document.createElement("p"), {
            className: "failure", textContent: text,
          }));
          answer = null;
          setBusy(false);
          setState("ready");
        } else if (!request) {
          $("load-status").textContent = text;
          setState("failed");
        }
        request?.reject(new Error(message.message));
        pending.delete(message.id);
        break;
      }
    }
  };
  worker.onerror = (event) => {
    $("load-status").textContent = say("failed", { error: event.message || "worker error" });
    setState("failed");
  };

  function call(message) {
    const id = nextId++;
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject });
      worker.postMessage({ ...message, id });
    });
  }

  chat.ask = (text, options = {}) => {
    if (chat.state !== "ready") throw new Error(`not ready: ${chat.state}`);
    chat.messages.push({ role: "user", content: text });
    addMessage("user", text);
    const id = nextId;
    answer = { id, body: addMessage("assistant", ""), text: "", question: text };
    setBusy(true);
    setState("answering");
    return call({
      type: "generate",
      messages: chat.messages,
      maxTokens: options.maxTokens ?? config.max_tokens,
      repetitionPenalty: options.repetitionPenalty ?? config.repetition_penalty,
    });
  };

  $("ask").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = $("prompt").value.trim();
    if (!text || chat.state !== "ready") return;
    $("prompt").value = "";
    chat.ask(text).catch((error) => console.warn(error));
  });
  $("prompt").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $("ask").requestSubmit();
    }
  });
  $("stop").addEventListener("click", () => worker.postMessage({ type: "stop" }));
  $("new-chat").addEventListener("click", () => {
    chat.messages = [...systemMessages];
    $("messages").replaceChildren();
    $("speed").textContent = "";
  });

  setupDigits((pixels) => call({ type: "digits", pixels }));
  worker.postMessage({ type: "load", ep: backend.ep, config });
}

// ----- digits: a canvas, down-sampled to 8×8 like scikit-learn's digits (0 = background) -----

function setupDigits(classify) {
  const canvas = $("digit-canvas");
  const context = canvas.getContext("2d", { willReadFrequently: true });
  const clear = () => {
    context.fillStyle = "#000";
    context.fillRect(0, 0, canvas.width, canvas.height);
    $("digit-result").textContent = "";
  };
  clear();
  let drawing = false;
  const point = (event) => {
    const box = canvas.getBoundingClientRect();
    return [
      ((event.clientX - box.left) * canvas.width) / box.width,
      ((event.clientY - box.top) * canvas.height) / box.height,
    ];
  };
  canvas.addEventListener("pointerdown", (event) => {
    drawing = true;
    canvas.setPointerCapture(event.pointerId);
    context.beginPath();
    context.moveTo(...point(event));
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!drawing) return;
    context.lineTo(...point(event));
    context.strokeStyle = "#fff";
    context.lineWidth = canvas.width / 10;
    context.lineCap = context.lineJoin = "round";
    context.stroke();
  });
  canvas.addEventListener("pointerup", () => (drawing = false));

  function pixels() {
    const cell = canvas.width / 8;
    const image = context.getImageData(0, 0, canvas.width, canvas.height).data;
    const values = new Float32Array(64);
    for (let y = 0; y < canvas.height; y++) {
      for (let x = 0; x < canvas.width; x++) {
        const index = Math.floor(y / cell) * 8 + Math.floor(x / cell);
        values[index] += image[(y * canvas.width + x) * 4] / 255;
      }
    }
    return values.map((sum) => sum / (cell * cell));
  }

  async function classifyCanvas() {
    const probabilities = await classify(pixels());
    let best = 0;
    for (let digit = 1; digit < 10; digit++) if (probabilities[digit] > probabilities[best]) best = digit;
    $("digit-result").textContent = say("digit_result", {
      digit: best,
      confidence: Math.round(probabilities[best] * 100),
    });
    $("digit-result").dataset.digit = String(best);
    return best;
  }
  $("classify").disabled = false;
  $("classify").addEventListener("click", () => classifyCanvas().catch((error) => {
    $("digit-result").textContent = say("failed", { error: error.message });
  }));
  $("clear").addEventListener("click", clear);
  window.digitDemo = { canvas, classifyCanvas, clear };
}

start().catch((error) => {
  $("load-status").textContent = say("failed", { error: error.message });
  setState("failed");
});

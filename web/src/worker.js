// The model's worker: downloads (once) and runs the bundled model with onnxruntime-web, a greedy
// loop with the KV cache kept here, the model's own tokenizer and chat template. Nothing here
// touches the network after "ready": generation only reads what is already in memory. An answer
// that falls into a loop is stopped where the chat's loop guard would stop it (loop_guard.js).

import { Tokenizer } from "../lib/tokenizers.min.mjs";
import { Template } from "../lib/jinja.mjs";
import { LoopGuard } from "./loop_guard.js";

const BASE = new URL("../", import.meta.url); // /browser/
const CACHE_NAME = "foundry-local-chat-browser-model";

let config = null;
let ep = "wasm";
let ort = null;
let session = null;
let tokenizer = null;
let template = null;
let digitsSession = null;
let stopRequested = false;
let ready = null; // a promise: the model loaded

// Let queued messages (a "stop") in between two decode steps, without a timer's clamping.
const yieldChannel = new MessageChannel();
let resumeAfterYield = null;
yieldChannel.port1.onmessage = () => resumeAfterYield();
function yieldToMessages() {
  return new Promise((resolve) => {
    resumeAfterYield = resolve;
    yieldChannel.port2.postMessage(null);
  });
}

async function loadOrt() {
  if (!ort) {
    ort = await import(new URL(`lib/${config.variants[ep].library}`, BASE).href);
    ort.env.wasm.wasmPaths = new URL("lib/", BASE).href;
  }
  return ort;
}

// ----- files: Cache Storage first (keyed by the file's version), else the network -----

async function openCache() {
  if (!self.caches) return null; // not a secure context: only the HTTP cache
  try {
    return await caches.open(CACHE_NAME);
  } catch (error) {
    postMessage({ type: "warning", message: `Cache Storage unavailable: ${error.message}` });
    return null;
  }
}

async function fetchFile(cache, file, onBytes) {
  const url = new URL(file.url, BASE).href;
  const key = `${url}?v=${file.version}`;
  if (cache) {
    const hit = await cache.match(key);
    if (hit) {
      const bytes = new Uint8Array(await hit.arrayBuffer());
      onBytes(bytes.length);
      return { bytes, cached: true };
    }
  }
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${file.url}: HTTP ${response.status}`);
  let bytes = new Uint8Array(file.bytes);
  let length = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (length + value.length > bytes.length) {
      const larger = new Uint8Array(Math.max(bytes.length * 2, length + value.length));
      larger.set(bytes.subarray(0, length));
      bytes = larger;
    }
    bytes.set(value, length);
    length += value.length;
    onBytes(value.length);
  }
  bytes = bytes.subarray(0, length);
  if (cache) {
    try {
      await cache.put(key, new Response(bytes, { headers: { "Content-Type": "application/octet-stream" } }));
      for (const request of await cache.keys()) {
        if (request.url.startsWith(`${url}?v=`) && request.url !== key) await cache.delete(request);
      }
    } catch (error) {
      postMessage({ type: "warning", message: `not cached (${file.url}): ${error.message}` });
    }
  }
  return { bytes, cached: false };
}

async function load() {
  const started = performance.now();
  const variant = config.variants[ep];
  const files = [...config.tokenizer, ...variant.files];
  const total = files.reduce((sum, file) => sum + file.bytes, 0);
  let loaded = 0;
  let lastReport = 0;
  const onBytes = (count) => {
    loaded += count;
    const now = performance.now();
    if (now - lastReport > 100 || loaded >= total) {
      lastReport = now;
      postMessage({ type: "progress", loaded, total });
    }
  };
  const cache = await openCache();
  const [ortModule, ...results] = await Promise.all([
    loadOrt(),
    ...files.map((file) => fetchFile(cache, file, onBytes)),
  ]);
  postMessage({ type: "starting" });
  const text = (bytes) => new TextDecoder().decode(bytes);
  const [tokenizerJson, tokenizerConfig, graph, weights] = results.map((result) => result.bytes);
  tokenizer = new Tokenizer(JSON.parse(text(tokenizerJson)), JSON.parse(text(tokenizerConfig)));
  template = new Template(config.chat_template);
  session = await ortModule.InferenceSession.create(graph, {
    executionProviders: [ep],
    externalData: [{ path: "model.onnx.data", data: weights }],
    graphOptimizationLevel: "all",
  });
  const source = !cache ? "http-cache" : results.every((result) => result.cached) ? "cache" : "network";
  postMessage({ type: "ready", source, loadMs: performance.now() - started });
}

// ----- generation -----

function render(messages) {
  return template.render({ messages, add_generation_prompt: true, ...config.special_tokens });
}

// The newest turns that fit the context with room for the answer (the system prompt stays).
function fitPrompt(messages, maxTokens) {
  const system = messages[0]?.role === "system" ? [messages[0]] : [];
  let turns = messages.slice(system.length);
  for (;;) {
    const prompt = render([...system, ...turns]);
    const ids = Array.from(tokenizer.encode(prompt).ids);
    if (ids.length + maxTokens <= config.context_length) return { prompt, ids };
    if (turns.length <= 1) throw new Error(`the message is too long for the model's context (${ids.length} tokens)`);
    turns = turns.slice(2);
  }
}

function emptyPast() {
  const past = {};
  const shape = [1, config.kv_heads, 0, config.head_size];
  for (let layer = 0; layer < config.layers; layer++) {
    past[`past_key_values.${layer}.key`] = new ort.Tensor("float32", new Float32Array(0), shape);
    past[`past_key_values.${layer}.value`] = new ort.Tensor("float32", new Float32Array(0), shape);
  }
  return past;
}

function int64(values) {
  return BigInt64Array.from(values, (value) => BigInt(value));
}

// Greedy choice after the repetition penalty on every token seen (as onnxruntime-genai does).
function nextToken(logits, seen, penalty) {
  const vocab = logits.dims[2];
  const offset = (logits.dims[1] - 1) * vocab;
  const scores = logits.data.subarray(offset, offset + vocab);
  if (penalty !== 1) {
    for (const token of seen) {
      const score = scores[token];
      scores[token] = score > 0 ? score / penalty : score * penalty;
    }
  }
  let best = 0;
  for (let token = 1; token < vocab; token++) if (scores[token] > scores[best]) best = token;
  return best;
}

async function generate({ id, messages, maxTokens, repetitionPenalty }) {
  await ready;
  stopRequested = false;
  const started = performance.now();
  const { prompt, ids: promptIds } = fitPrompt(messages, maxTokens);
  const eos = new Set(config.eos_token_ids);
  const seen = new Set(promptIds);
  const generated = [];
  let length = promptIds.length;
  let inputIds = promptIds;
  let past = emptyPast();
  let text = "";
  let firstTokenAt = null;
  let runMs = 0; // inside onnxruntime: the rest of a step is this loop's own cost
  const guard = config.loop_guard ? new LoopGuard() : null;
  while (generated.length < maxTokens && !stopRequested && !guard?.loop) {
    const runStarted = performance.now();
    const outputs = await session.run({
      input_ids: new ort.Tensor("int64", int64(inputIds), [1, inputIds.length]),
      attention_mask: new ort.Tensor("int64", new BigInt64Array(length).fill(1n), [1, length]),
      ...past,
    });
    runMs += performance.now() - runStarted;
    const token = nextToken(outputs.logits, seen, repetitionPenalty);
    past = {};
    for (let layer = 0; layer < config.layers; layer++) {
      past[`past_key_values.${layer}.key`] = outputs[`present.${layer}.key`];
      past[`past_key_values.${layer}.value`] = outputs[`present.${layer}.value`];
    }
    if (eos.has(token)) break;
    firstTokenAt ??= performance.now();
    generated.push(token);
    seen.add(token);
    length += 1;
    inputIds = [token];
    const decoded = tokenizer.decode(generated, { skip_special_tokens: true });
    if (!decoded.endsWith("\uFFFD") && decoded.length > text.length) {
      const delta = decoded.slice(text.length);
      postMessage({ type: "token", id, text: delta });
      text = decoded;
      guard?.feed(delta);
    }
    await yieldToMessages();
  }
  const finished = performance.now();
  const decoded = tokenizer.decode(generated, { skip_special_tokens: true });
  if (!guard?.loop && decoded.length > text.length) postMessage({ type: "token", id, text: decoded.slice(text.length) });
  const decodeSeconds = firstTokenAt === null ? 0 : (finished - firstTokenAt) / 1000;
  postMessage({
    type: "done",
    id,
    prompt,
    stats: {
      promptTokens: promptIds.length,
      tokens: generated.length,
      firstTokenMs: (firstTokenAt ?? finished) - started,
      tokensPerSecond: generated.length > 1 && decodeSeconds > 0 ? (generated.length - 1) / decodeSeconds : 0,
      stopped: stopRequested,
      loop: guard?.loop ?? null, // {keep, span}: stopped in a loop, `keep` is what to show
      runMs,
      loopMs: finished - started,
      ep,
    },
  });
}

// ----- digits -----

async function classifyDigits({ id, pixels }) {
  if (!digitsSession) {
    const module = await loadOrt();
    const { bytes } = await fetchFile(await openCache(), config.digits, () => {});
    digitsSession = await module.InferenceSession.create(bytes, { executionProviders: [ep] });
  }
  const outputs = await digitsSession.run({ pixels: new ort.Tensor("float32", Float32Array.from(pixels), [1, 64]) });
  postMessage({ type: "digits", id, probabilities: Array.from(outputs.probabilities.data) });
}

function report(id, error) {
  postMessage({ type: "error", id, message: error?.message || String(error) });
}

self.onmessage = ({ data: message }) => {
  switch (message.type) {
    case "load":
      config = message.config;
      ep = message.ep;
      ready = load();
      ready.catch((error) => report(undefined, error));
      break;
    case "generate":
      generate(message).catch((error) => report(message.id, error));
      break;
    case "stop":
      stopRequested = true;
      break;
    case "digits":
      classifyDigits(message).catch((error) => report(message.id, error));
      break;
  }
};

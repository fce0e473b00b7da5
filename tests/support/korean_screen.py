"""What a screen shows in words, and which of them are English: the Korean UI's tests
(tests/browser/test_korean.py walks the chat's screens, tests/browser/test_browser_page.py the
/browser page) find no English on a Korean screen but names, the model's words and the user's."""

from __future__ import annotations

import re

# Every visible text and the labels a screen reader reads, except the model's words (an answer's
# text), the user's (their messages, and the chat titles made from them), code (settings and
# commands, file kinds) and what sits in “quotes” (an error as its program said it).
TEXTS_ON_SCREEN = """() => {
  const skipped = (element) => {
    // the user's messages, chat titles and files, a setting's value; code
    const users = '[data-step-type="user_message"], li[id^="thread-"], [data-testid="source-text"]'
      + ', #messages .text';  // on /browser: the user's words and the model's
    if (element.closest(`${users}, textarea, input, code, pre`)) return true;
    const step = element.closest('[data-step-type="assistant_message"]');
    return Boolean(step && step.querySelector('[data-testid="answer-stats"]')
      && !element.closest('[data-testid="answer-stats"]'));
  };
  const texts = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const element = node.parentElement;
    if (!element || !node.nodeValue.trim() || skipped(element)) continue;
    if (element.closest("script, style, noscript")) continue;
    if (!element.checkVisibility()) continue;
    texts.push(node.nodeValue.trim());
  }
  const labelled = "[aria-label], [title], [placeholder], img[alt]";
  for (const element of document.body.querySelectorAll(labelled)) {
    if (skipped(element) || !element.checkVisibility()) continue;
    for (const name of ["aria-label", "title", "placeholder", "alt"]) {
      const value = element.getAttribute(name);
      if (value && value.trim()) texts.push(value.trim());
    }
  }
  return texts;
}"""
# Names that are the same in any language; a Korean particle may follow one (Foundry Local이).
NAMES = re.compile(
    r"(?<![A-Za-z])(?:"
    r"“[^”]*”"  # a quoted error
    r"|https?://\S+|\d+\.\d+\.\d+\.\d+(:\d+)?\S*"  # addresses
    r"|[\w.-]+:\d+"  # a model id with its version (smollm2-…-cpu:1)
    r"|smollm2[\w.-]*|phi-4-mini|SmolLM2-135M"  # models
    r"|[\w.-]+\.(md|txt|pdf|html|docx|png)"  # file names
    r"|[A-Z][A-Z0-9_]{2,}(=\S*)?"  # settings (BASE_URL, MODEL=…), CPU, OCR, WASM
    r"|(Microsoft )?Foundry Local( Chat)?|OpenAI|Open WebUI|WebGPU|[KM]B|Node\.js|npm|Alt\+\w"
    r")(?![A-Za-z])"
)
ENGLISH_WORD = re.compile(r"[A-Za-z]{2,}")


def english_in(texts: list[str], users_words: set[str]) -> list[str]:
    return sorted(
        {t for t in texts if t not in users_words and ENGLISH_WORD.search(NAMES.sub(" ", t))}
    )

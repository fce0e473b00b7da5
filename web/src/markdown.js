// The model's answer as Markdown (marked), made safe (DOMPurify): what the model writes is shown,
// never run nor fetched from.
// - Raw HTML in the answer (`<img onerror=…>`, `<script>`) is shown as the text it is.
// - An image (`![alt](url)`) becomes a link to it after a "!", as in the server chat
//   (foundry_local_chat/markdown_safety.py): nothing is fetched for it.
// - What marked makes goes through DOMPurify with a short list of tags and attributes, and links
//   open in a new tab without the page as their opener.

import { Marked } from "../lib/marked.esm.js";
// DOMPurify's minified build is a UMD script: imported as a module, it sets globalThis.DOMPurify.
import "../lib/purify.min.js";

const DOMPurify = globalThis.DOMPurify;

const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

function escape(text) {
  return text.replace(/[&<>"']/g, (char) => ESCAPES[char]);
}

const marked = new Marked({
  gfm: true,
  breaks: true, // the model's line breaks stay (a poem, lines of a list written without markup)
  renderer: {
    html({ text, block }) {
      return block ? `<p>${escape(text)}</p>` : escape(text);
    },
    image({ href, text }) {
      return `!<a href="${escape(href)}">${escape(text || href)}</a>`;
    },
  },
});

// What marked makes of Markdown, and no more: no images, forms, styles, frames or scripts.
const ALLOWED = {
  ALLOWED_TAGS: [
    "a", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "li",
    "ol", "p", "pre", "strong", "table", "tbody", "td", "th", "thead", "tr", "ul",
  ],
  ALLOWED_ATTR: ["href", "title", "start", "align"],
  ALLOW_DATA_ATTR: false,
  RETURN_DOM_FRAGMENT: true,
};

DOMPurify.addHook("afterSanitizeAttributes", (node) => {
  if (node.tagName === "A") {
    node.setAttribute("target", "_blank");
    node.setAttribute("rel", "noopener noreferrer");
  }
});

// The answer's Markdown as safe DOM nodes (a fragment).
export function markdownFragment(text) {
  return DOMPurify.sanitize(marked.parse(text), ALLOWED);
}

// Shows `text` as Markdown in `element`, in place of what it showed.
export function showMarkdown(element, text) {
  element.replaceChildren(markdownFragment(text));
}

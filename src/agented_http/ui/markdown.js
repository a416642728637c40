// A small, safe Markdown renderer for assistant text.
//
// Safety by construction: the whole input is HTML-escaped first, so nothing it contains can
// become markup; the renderer then emits only a fixed whitelist of tags (p, br, h3-h6, strong,
// em, code, pre, ul, ol, li, blockquote, a) with no attributes but a link's href (http or https
// only, itself escaped) and a fixed rel. tests/test_dashboard_browser.py checks, with Hypothesis,
// that no input yields a script, an event handler attribute or a non-http link.
import { escape } from "./format.js";

const HOLE = "\u0000";
const LINK = /\[([^\]\n]{1,500})\]\((https?:\/\/[^\s()<>"']{1,2000})\)/g;
const BARE = /\bhttps?:\/\/[^\s()<>"']{1,2000}/g;

function emphasis(text) {
  return text
    .replace(/\*\*([^*\n]+)\*\*/g, "<strong>$1</strong>")
    .replace(/__([^_\n]+)__/g, "<strong>$1</strong>")
    .replace(/(^|[^\w*])\*([^*\n]+)\*(?!\w)/g, "$1<em>$2</em>")
    .replace(/(^|[^\w_])_([^_\n]+)_(?!\w)/g, "$1<em>$2</em>");
}

/** One line's inline markup; ``raw`` is plain text (escaped here). */
export function inline(raw) {
  const held = [];
  const hold = (html) => `${HOLE}${held.push(html) - 1}${HOLE}`;
  let text = String(raw).replace(/\u0000/g, "");
  // code spans and links are taken out first, so emphasis never reaches inside them
  text = text.replace(/`([^`\n]+)`/g, (_, code) => hold(`<code>${escape(code)}</code>`));
  text = text.replace(LINK, (_, label, url) => hold(anchor(url, emphasis(escape(label)))));
  text = text.replace(BARE, (url) => hold(anchor(url, escape(url))));
  text = emphasis(escape(text));
  return text.replace(/\u0000(\d+)\u0000/g, (_, i) => held[Number(i)]);
}

function anchor(url, label) {
  return `<a href="${escape(url)}" rel="noopener noreferrer nofollow">${label}</a>`;
}

/** Markdown text as HTML (a whitelist of tags, everything else escaped). */
export function markdown(source) {
  const lines = String(source ?? "").replace(/\r\n?/g, "\n").split("\n");
  const out = [];
  let paragraph = [];
  let list = null; // {tag, items}
  let quote = [];
  const flushParagraph = () => {
    if (paragraph.length) out.push(`<p>${paragraph.map(inline).join("<br>")}</p>`);
    paragraph = [];
  };
  const flushList = () => {
    if (list) out.push(`<${list.tag}>${list.items.map((i) => `<li>${inline(i)}</li>`).join("")}</${list.tag}>`);
    list = null;
  };
  const flushQuote = () => {
    if (quote.length) out.push(`<blockquote>${quote.map(inline).join("<br>")}</blockquote>`);
    quote = [];
  };
  const flush = () => { flushParagraph(); flushList(); flushQuote(); };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const fence = /^\s*(```|~~~)/.exec(line);
    if (fence) {
      flush();
      const body = [];
      for (i++; i < lines.length && !lines[i].trim().startsWith(fence[1]); i++) body.push(lines[i]);
      out.push(`<pre><code>${escape(body.join("\n"))}</code></pre>`);
      continue;
    }
    const heading = /^(#{1,6})\s+(.*)$/.exec(line);
    if (heading) {
      flush();
      const level = Math.min(6, heading[1].length + 2);
      out.push(`<h${level}>${inline(heading[2])}</h${level}>`);
      continue;
    }
    const bullet = /^\s*[-*+]\s+(.*)$/.exec(line);
    const numbered = /^\s*\d{1,9}[.)]\s+(.*)$/.exec(line);
    if (bullet || numbered) {
      flushParagraph(); flushQuote();
      const tag = bullet ? "ul" : "ol";
      if (list && list.tag !== tag) flushList();
      if (!list) list = { tag, items: [] };
      list.items.push((bullet || numbered)[1]);
      continue;
    }
    const quoted = /^\s*>\s?(.*)$/.exec(line);
    if (quoted) {
      flushParagraph(); flushList();
      quote.push(quoted[1]);
      continue;
    }
    if (!line.trim()) { flush(); continue; }
    flushList(); flushQuote();
    paragraph.push(line);
  }
  flush();
  return out.join("");
}

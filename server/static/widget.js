/*!
 * supportbot web chat widget: a vanilla web component (<supportbot-chat>) with a Shadow DOM.
 * No dependencies and no build step. Embed it with one tag:
 *
 *   <script src="https://shop.example/static/widget.js" data-title="Chat with us" defer></script>
 *
 * Every data-* option and CSS custom property is documented in docs/widget.md.
 * Security rule of this file: text from the server is only ever inserted with textContent or
 * through the small Markdown renderer below, which builds DOM nodes itself. Never innerHTML.
 */
(() => {
  "use strict";

  const TAG = "supportbot-chat";
  if (customElements.get(TAG)) return; // the script was included twice

  // Captured now: document.currentScript is only set while this script runs.
  const SCRIPT = document.currentScript;
  const SCRIPT_ORIGIN = (() => {
    try {
      return SCRIPT && SCRIPT.src ? new URL(SCRIPT.src, location.href).origin : location.origin;
    } catch {
      return location.origin;
    }
  })();

  /** Customer-facing strings (data-* attribute in kebab-case → English default). */
  const STRINGS = {
    title: "Chat with us",
    subtitle: "",
    greeting: "",
    placeholder: "Type your message…",
    inputLabel: "Message",
    counterText: "{count} / {max} characters",
    tooLongText: "Your message is too long to send ({count} / {max} characters). Please shorten it.",
    launcherLabel: "Open chat",
    closeLabel: "Close chat",
    sendLabel: "Send",
    newConversationLabel: "Start a new conversation",
    messagesLabel: "Conversation",
    botName: "Assistant",
    youLabel: "You",
    typingLabel: "The assistant is typing…",
    agentTypingText: "{name} is typing…",
    offlineText: "You're offline. Your messages will be sent when the connection is back.",
    reconnectingText: "Connection lost. Reconnecting…",
    sourcesLabel: "Sources",
    quickRepliesLabel: "Suggested replies",
    feedbackLabel: "Was this answer helpful?",
    helpfulLabel: "Helpful",
    notHelpfulLabel: "Not helpful",
    feedbackThanks: "Thanks for your feedback!",
    queuedLabel: "Waiting to send…",
    failedText: "Not sent.",
    retryingText: "Not sent yet: we're having a technical problem on our side. Trying again…",
    retryLabel: "Retry",
    separatorText: "New conversation",
    cardsLabel: "Products",
    productLinkLabel: "View product",
    cardColoursLabel: "Colours",
    cardSizesLabel: "In stock",
    soldOutText: "Sold out",
    rememberedLabel: "Remembered",
    unreadLabel: "Open chat: new message",
  };

  /** Behaviour options (data-* attribute → default). */
  const OPTIONS = {
    server: "", // base URL of the supportbot server; default: where widget.js was loaded from
    transport: "auto", // auto (WebSocket, falling back to POST /chat) | websocket | http
    startPayload: "/greet", // sent silently when a conversation is opened for the first time; "" = none
    feedback: "answers", // thumbs on: answers (replies with sources) | all | off
    markdown: "true", // render bot text as sanitised Markdown; "false" = plain text
    open: "false", // open the panel on first load
    storageKey: "supportbot", // localStorage/sessionStorage key prefix
    position: "right", // right | left
    maxLength: "2000", // characters per message; keep it equal to the server's max_message_chars
    customerToken: "", // the shop's signed token of the logged-in customer, forwarded as metadata.customer_token
    triggers: "", // page triggers: their URL; default the server's widget/triggers; "off" = none
    pageValues: "", // JSON object of the page's values for the triggers' conditions and {placeholders}
  };

  const BACKOFF_BASE_MS = 500;
  const BACKOFF_MAX_MS = 30000;
  const WS_FAILURES_BEFORE_HTTP = 2; // sockets that never opened, while online, before using POST /chat
  // A message the server could not take (503 / an error frame with one of these codes: it is starting, or
  // could not save the conversation) is sent again with backoff, this many times, before it shows "Not sent".
  const RESEND_MAX_ATTEMPTS = 6;
  const RESEND_CODES = new Set(["not_ready", "store_unavailable"]);
  // The server no longer lets this device use its conversation (its token is missing, wrong or expired):
  // the widget starts a new conversation and sends the message again there, at most this many times.
  const TOKEN_CODES = new Set(["conversation_token_required", "conversation_token_invalid", "conversation_token_expired"]);
  const TOKEN_RESEND_MAX = 3;
  const TOKEN_HEADER = "X-Conversation-Token";
  const COUNTER_FROM = 0.8; // show the character counter from this share of data-max-length
  const REVEAL_GAP_PX = 8; // space above a long new message scrolled to the top of the log
  const TYPING_QUIET_MS = 2000; // a page trigger waits until no key was pressed for this long
  const TRIGGER_RECHECK_MS = 1000; // how often a trigger held back by typing is tried again
  const DAY_MS = 86400000;

  // -- small helpers -----------------------------------------------------------------------------------
  const camelToKebab = (name) => name.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());

  /** Characters as the server counts them (code points: an emoji is one, not two UTF-16 units). */
  const charCount = (text) => [...text].length;

  /** A response's Retry-After in milliseconds (a number of seconds; 0 when absent or a date). */
  const retryAfterMs = (response) => {
    const seconds = Number.parseFloat(response.headers.get("Retry-After") || "");
    return seconds > 0 ? seconds * 1000 : 0;
  };

  /** A strings-table text with its {placeholders} filled in. */
  const fill = (template, values) => template.replace(/\{(\w+)\}/g, (all, key) => (Object.hasOwn(values, key) ? String(values[key]) : all));

  /** A page value against a trigger's condition ({equals, at_least, at_most, present}); all given must hold. */
  function valueHolds(value, condition) {
    const present = value !== undefined && value !== null && value !== "";
    if ("present" in condition && present !== Boolean(condition.present)) return false;
    if ("equals" in condition && !(present && String(value) === String(condition.equals))) return false;
    const number = typeof value === "number" ? value : Number.parseFloat(value);
    if ("at_least" in condition && !(Number.isFinite(number) && number >= Number(condition.at_least))) return false;
    if ("at_most" in condition && !(Number.isFinite(number) && number <= Number(condition.at_most))) return false;
    return true;
  }

  function h(tag, attrs = {}, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") el.className = value;
      else if (key === "text") el.textContent = value;
      else el.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children) if (child) el.append(child);
    return el;
  }

  /** A static SVG icon (our own markup, never server text). */
  function icon(paths) {
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    for (const d of paths) {
      const path = document.createElementNS(ns, "path");
      path.setAttribute("d", d);
      svg.append(path);
    }
    return svg;
  }
  const ICONS = {
    chat: ["M4 5h16v11H8l-4 4z"],
    close: ["M6 6l12 12M18 6L6 18"],
    send: ["M4 12l16-8-6 16-2-7z"],
    restart: ["M4 12a8 8 0 1 0 2.3-5.6", "M4 4v5h5"],
    up: ["M7 11v9H4v-9zM7 11l4-7c1.5 0 2.5 1 2.2 2.6L12.6 10H19a2 2 0 0 1 2 2.3l-1.2 6A2 2 0 0 1 17.8 20H7"],
    down: ["M7 13V4H4v9zM7 13l4 7c1.5 0 2.5-1 2.2-2.6L12.6 14H19a2 2 0 0 0 2-2.3l-1.2-6A2 2 0 0 0 17.8 4H7"],
  };

  function newId() {
    if (crypto.randomUUID) return crypto.randomUUID(); // secure contexts only (https, localhost)
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }

  /** Storage that degrades to memory when the browser refuses it (private modes, disabled cookies). */
  function safeStorage(kind) {
    const memory = new Map();
    let store = null;
    try {
      store = window[kind];
      store.setItem("supportbot:probe", "1");
      store.removeItem("supportbot:probe");
    } catch {
      store = null;
    }
    return {
      get: (k) => (store ? store.getItem(k) : memory.get(k) ?? null),
      set: (k, v) => (store ? store.setItem(k, v) : memory.set(k, v)),
      remove: (k) => (store ? store.removeItem(k) : memory.delete(k)),
    };
  }

  // -- safe Markdown: paragraphs, line breaks, **bold**, *italic*, `code`, lists, [links](http…), -------
  // -- and bare web addresses, email addresses and international phone numbers as links -------------
  /** An href we are willing to put in a link: http(s), mailto:, tel: or relative. The absolute URL or null. */
  function safeHref(href, base) {
    const raw = String(href || "").trim();
    if (!raw) return null;
    if (/^[a-z][a-z0-9+.-]*:/i.test(raw) && !/^(https?|mailto|tel):/i.test(raw)) return null; // javascript:, data:, …
    try {
      const url = new URL(raw, base);
      return ["http:", "https:", "mailto:", "tel:"].includes(url.protocol) ? url.href : null;
    } catch {
      return null;
    }
  }

  /** A link: web pages open in a new tab; mailto: and tel: open the mail or phone app. */
  function externalLink(href, text) {
    if (/^(mailto|tel):/i.test(href)) return h("a", { href, text });
    return h("a", { href, target: "_blank", rel: "noopener noreferrer", text });
  }

  // Alternatives, in order: **bold**/__bold__, *italic*/_italic_, `code`, [text](href), a bare http(s)
  // URL (trailing punctuation stays outside the link), an email address, and a phone number written
  // in international form (+33 1 00 00 00 00, +44 (0)20 0000 0000). Only numbers starting with "+" are
  // phone numbers, so order numbers, dates, times and prices stay text.
  const INLINE =
    /(\*\*|__)(?=\S)([\s\S]+?)(?<=\S)\1|\*(?=\S)([\s\S]+?)(?<=\S)\*|(?<![\w])_(?=\S)([\s\S]+?)(?<=\S)_(?![\w])|`([^`]+)`|\[([^\]]+)\]\(([^)\s]+)\)|(https?:\/\/[^\s<>()[\]]*[^\s<>()[\].,;:!?'"])|(?<email>(?<![\w.%+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,}(?![\w-]))|(?<phone>(?<![\w+])\+\d{1,3}(?:[ .-]?(?:\(\d{1,4}\)|\d{1,5}))+(?!\w))/;

  /** `tel:` address of a phone number as written, or null when it has too few or too many digits. */
  function telHref(number) {
    const digits = number.replace(/\(0\)/g, "").replace(/\D/g, "");
    return digits.length >= 8 && digits.length <= 15 ? `tel:+${digits}` : null;
  }

  /** Inline Markdown into `parent`. `links` is false inside a link's words (links never nest). */
  function renderInline(text, parent, base, links = true) {
    let rest = text;
    while (rest) {
      const m = INLINE.exec(rest);
      if (!m) {
        parent.append(document.createTextNode(rest));
        break;
      }
      if (m.index) parent.append(document.createTextNode(rest.slice(0, m.index)));
      const linkOrText = (href, words) => parent.append(links && href ? externalLink(href, words) : document.createTextNode(words));
      if (m[2] !== undefined) renderInline(m[2], parent.appendChild(h("strong")), base, links);
      else if (m[3] !== undefined || m[4] !== undefined) {
        renderInline(m[3] ?? m[4], parent.appendChild(h("em")), base, links);
      } else if (m[5] !== undefined) parent.append(h("code", { text: m[5] }));
      else if (m[8] !== undefined) linkOrText(safeHref(m[8], base), m[8]);
      else if (m.groups.email !== undefined) linkOrText(`mailto:${m.groups.email}`, m.groups.email);
      else if (m.groups.phone !== undefined) linkOrText(telHref(m.groups.phone), m.groups.phone);
      else {
        const href = links ? safeHref(m[7], base) : null;
        if (href) renderInline(m[6], parent.appendChild(externalLink(href, "")), base, false);
        else renderInline(m[6], parent, base, false); // unsafe link (or inside a link): keep its words, drop the target
      }
      rest = rest.slice(m.index + m[0].length);
    }
  }

  /** Markdown text → a DocumentFragment, built node by node. */
  function renderMarkdown(text, base) {
    const out = document.createDocumentFragment();
    let paragraph = null; // lines of the open paragraph
    let list = null; // the open <ul>/<ol>
    const closeParagraph = () => {
      if (!paragraph) return;
      const p = h("p");
      paragraph.forEach((line, i) => {
        if (i) p.append(h("br"));
        renderInline(line, p, base);
      });
      out.append(p);
      paragraph = null;
    };
    for (const line of String(text).split(/\r?\n/)) {
      const bullet = /^\s*[-*+]\s+(.*)$/.exec(line);
      const numbered = /^\s*(\d{1,9})[.)]\s+(.*)$/.exec(line);
      const heading = /^\s*#{1,6}\s+(.*)$/.exec(line);
      if (bullet || numbered) {
        closeParagraph();
        const tag = bullet ? "UL" : "OL";
        if (!list || list.tagName !== tag) {
          list = h(tag.toLowerCase());
          if (numbered && numbered[1] !== "1") list.setAttribute("start", numbered[1]);
          out.append(list);
        }
        renderInline(bullet ? bullet[1] : numbered[2], list.appendChild(h("li")), base);
      } else if (!line.trim()) {
        closeParagraph();
        list = null;
      } else if (heading) {
        closeParagraph();
        list = null;
        const p = h("p");
        renderInline(heading[1], p.appendChild(h("strong")), base);
        out.append(p);
      } else if (list && /^\s{2,}\S/.test(line)) {
        // an indented continuation of the last list item
        const last = list.lastElementChild;
        last.append(h("br"));
        renderInline(line.trim(), last, base);
      } else {
        list = null;
        (paragraph ||= []).push(line);
      }
    }
    closeParagraph();
    return out;
  }

  // -- styles (inside the shadow root; themable through the --sb-* custom properties) ----------------
  const CSS = `
:host {
  --sb-accent: #1f3a36;
  --sb-accent-text: #ffffff;
  --sb-background: #ffffff;
  --sb-text: #1d1d1b;
  --sb-muted: #5b5750;
  --sb-border: #dcd7ce;
  --sb-input-border: #7d776d;
  --sb-bot-background: #f2efe9;
  --sb-bot-text: #1d1d1b;
  --sb-user-background: #1f3a36;
  --sb-user-text: #ffffff;
  --sb-link: #1f3a36;
  --sb-focus: #1a5fb4;
  --sb-notice-background: #fff4d6;
  --sb-notice-text: #4a3800;
  --sb-error: #a3231a;
  --sb-font: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  --sb-font-size: 15px;
  --sb-radius: 16px;
  --sb-width: 380px;
  --sb-height: 600px;
  --sb-offset: 20px;
  --sb-z-index: 2147483000;
  all: initial;
  font-family: var(--sb-font);
  font-size: var(--sb-font-size);
  line-height: 1.45;
  color: var(--sb-text);
}
*, *::before, *::after { box-sizing: border-box; }
[hidden] { display: none !important; }
button, input { font: inherit; color: inherit; }
button { cursor: pointer; }
:focus { outline: none; }
:focus-visible { outline: 3px solid var(--sb-focus); outline-offset: 2px; }
.visually-hidden { position: absolute !important; width: 1px; height: 1px; margin: -1px; padding: 0; overflow: hidden;
  clip: rect(0 0 0 0); white-space: nowrap; border: 0; }
svg { width: 20px; height: 20px; fill: none; stroke: currentColor; stroke-width: 2; stroke-linecap: round;
  stroke-linejoin: round; }

.launcher { position: fixed; bottom: var(--sb-offset); right: var(--sb-offset); z-index: var(--sb-z-index);
  width: 58px; height: 58px; border-radius: 50%; border: 0; background: var(--sb-accent); color: var(--sb-accent-text);
  display: grid; place-items: center; box-shadow: 0 6px 24px rgb(0 0 0 / 0.22); transition: transform 0.15s ease; }
.launcher:hover { transform: scale(1.05); }
.launcher svg { width: 26px; height: 26px; }
:host([data-position="left"]) .launcher, :host([data-position="left"]) .panel { right: auto; left: var(--sb-offset); }

.panel { position: fixed; bottom: var(--sb-offset); right: var(--sb-offset); z-index: var(--sb-z-index);
  width: min(var(--sb-width), calc(100vw - 2 * var(--sb-offset)));
  height: min(var(--sb-height), calc(100vh - 2 * var(--sb-offset)));
  display: flex; flex-direction: column; overflow: hidden; background: var(--sb-background);
  border: 1px solid var(--sb-border); border-radius: var(--sb-radius); box-shadow: 0 12px 48px rgb(0 0 0 / 0.22);
  animation: sb-rise 0.18s ease-out; }
@keyframes sb-rise { from { opacity: 0; transform: translateY(12px); } }

.header { display: flex; align-items: center; gap: 8px; padding: 12px 12px 12px 18px;
  background: var(--sb-accent); color: var(--sb-accent-text); }
.header-text { flex: 1; min-width: 0; }
.title { margin: 0; font-size: 1.05em; font-weight: 600; }
.subtitle { margin: 2px 0 0; font-size: 0.85em; opacity: 0.92; }
.icon-button { flex: none; width: 40px; height: 40px; border-radius: 50%; border: 0; background: transparent;
  color: inherit; display: grid; place-items: center; }
.icon-button:hover { background: rgb(255 255 255 / 0.14); }
.header :focus-visible { outline-color: var(--sb-accent-text); outline-offset: -3px; }

.notice { margin: 0; padding: 8px 16px; font-size: 0.9em; background: var(--sb-notice-background);
  color: var(--sb-notice-text); border-bottom: 1px solid var(--sb-border); }

.messages { flex: 1; overflow-y: auto; margin: 0; padding: 16px 14px 8px; list-style: none;
  display: flex; flex-direction: column; gap: 10px; scroll-behavior: smooth; overscroll-behavior: contain; }
.msg { display: flex; flex-direction: column; max-width: 88%; }
.msg.bot, .typing { align-self: flex-start; }
.msg.user { align-self: flex-end; align-items: flex-end; }
.bubble { padding: 9px 13px; border-radius: 14px; overflow-wrap: anywhere; }
.bot .bubble, .typing .bubble { background: var(--sb-bot-background); color: var(--sb-bot-text); border-bottom-left-radius: 4px; }
.user .bubble { background: var(--sb-user-background); color: var(--sb-user-text); border-bottom-right-radius: 4px;
  white-space: pre-wrap; }
.bubble.plain { white-space: pre-wrap; }
.bubble p { margin: 0 0 0.5em; }
.bubble p:last-child, .bubble ul:last-child, .bubble ol:last-child { margin-bottom: 0; }
.bubble ul, .bubble ol { margin: 0 0 0.5em; padding-left: 1.3em; }
.bubble li + li { margin-top: 0.2em; }
.bubble code { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 0.92em; }
.bubble a, .sources a { color: var(--sb-link); text-decoration: underline; text-underline-offset: 0.15em; }
.user .bubble a { color: inherit; }
.status-line { font-size: 0.8em; color: var(--sb-muted); margin-top: 3px; }
.status-line button { border: 0; background: none; padding: 0 2px; text-decoration: underline; color: var(--sb-link); }
.sources { margin-top: 6px; font-size: 0.85em; color: var(--sb-muted); }
.sources ul { margin: 2px 0 0; padding-left: 1.1em; }
.feedback { display: flex; flex-wrap: wrap; align-items: center; gap: 6px; margin-top: 6px; color: var(--sb-muted); }
.feedback button { min-width: 36px; min-height: 36px; padding: 4px 12px 4px 10px; border: 1px solid var(--sb-input-border);
  border-radius: 999px; background: var(--sb-background); color: var(--sb-text); display: inline-flex;
  align-items: center; gap: 6px; font-size: 0.85em; }
.feedback button:hover { background: var(--sb-bot-background); }
.feedback button[aria-pressed="true"] { color: var(--sb-accent-text); background: var(--sb-accent); border-color: var(--sb-accent); }
.feedback svg { flex: none; width: 16px; height: 16px; }
.feedback-thanks { font-size: 0.8em; margin-left: 4px; }
.remembered { margin: 4px 0 0; font-size: 0.8em; color: var(--sb-muted); }
.launcher .badge { position: absolute; top: 4px; right: 4px; width: 14px; height: 14px; border-radius: 50%;
  background: var(--sb-error); border: 2px solid var(--sb-accent-text); }
.quick { display: flex; flex-wrap: wrap; gap: 6px; margin-top: 8px; }
.quick button { border: 1.5px solid var(--sb-accent); color: var(--sb-accent); background: var(--sb-background);
  border-radius: 999px; padding: 6px 13px; font-size: 0.92em; }
.quick button:hover { background: var(--sb-bot-background); }
.msg.has-cards { align-self: stretch; max-width: 100%; }
.msg.has-cards > .bubble, .msg.has-cards > .sources, .msg.has-cards > .feedback { align-self: flex-start; max-width: 88%; }
.cards { display: flex; gap: 10px; margin: 8px 0 0; padding: 2px 2px 8px; list-style: none; overflow-x: auto;
  overscroll-behavior-x: contain; scroll-snap-type: x mandatory; scroll-padding: 0 2px; scroll-behavior: smooth; }
.card { flex: 0 0 min(210px, 78%); min-width: 0; scroll-snap-align: start; display: flex; flex-direction: column; gap: 3px;
  padding: 0 0 10px; border: 1px solid var(--sb-border); border-radius: 12px; background: var(--sb-background);
  color: var(--sb-text); overflow: hidden; }
.card:focus-visible { outline-offset: -3px; }
.card-image { display: block; width: 100%; height: 130px; object-fit: contain; background: var(--sb-bot-background);
  margin-bottom: 5px; }
.card > p, .card > a { margin: 0 12px; overflow-wrap: anywhere; }
.card-title { font-weight: 600; }
.card-price { font-weight: 600; color: var(--sb-text); }
.card-meta { font-size: 0.85em; color: var(--sb-muted); }
.card-link { color: var(--sb-link); text-decoration: underline; text-underline-offset: 0.15em; font-size: 0.92em;
  padding: 4px 0; align-self: flex-start; }
.card-actions { display: flex; flex-wrap: wrap; gap: 6px; margin: auto 12px 0; padding-top: 6px; }
.card-actions button { border: 1.5px solid var(--sb-accent); color: var(--sb-accent); background: var(--sb-background);
  border-radius: 999px; padding: 5px 11px; font-size: 0.85em; min-height: 32px; }
.card-actions button:hover { background: var(--sb-bot-background); }
.separator { align-self: stretch; display: flex; align-items: center; gap: 10px; color: var(--sb-muted);
  font-size: 0.8em; }
.separator::before, .separator::after { content: ""; flex: 1; border-top: 1px solid var(--sb-border); }
.typing .bubble { display: inline-flex; gap: 4px; padding: 13px 14px; }
.typing .dot { width: 7px; height: 7px; border-radius: 50%; background: var(--sb-muted);
  animation: sb-blink 1.2s infinite ease-in-out; }
.typing .dot:nth-child(2) { animation-delay: 0.15s; }
.typing .dot:nth-child(3) { animation-delay: 0.3s; }
.agent-name { font-size: 0.78em; font-weight: 600; color: var(--sb-muted); margin: 0 0 2px 4px; }
.agent-typing { align-self: flex-start; font-size: 0.85em; color: var(--sb-muted); font-style: italic; }
@keyframes sb-blink { 0%, 80%, 100% { opacity: 0.3; } 40% { opacity: 1; } }

.composer { display: flex; flex-wrap: wrap; gap: 8px; padding: 10px 12px; border-top: 1px solid var(--sb-border); }
.composer input { flex: 1; min-width: 0; padding: 10px 14px; border: 1.5px solid var(--sb-input-border); border-radius: 999px;
  background: var(--sb-background); color: var(--sb-text); }
.composer input::placeholder { color: var(--sb-muted); opacity: 1; }
.composer input:focus-visible { outline-offset: 0; border-color: var(--sb-focus); }
.composer input[aria-invalid="true"] { border-color: var(--sb-error); }
.limit { flex: 1 0 100%; margin: -2px 0 0; padding: 0 14px; font-size: 0.8em; color: var(--sb-muted); }
.limit.over { color: var(--sb-error); font-weight: 600; }
.send { flex: none; width: 44px; height: 44px; border: 0; border-radius: 50%; background: var(--sb-accent);
  color: var(--sb-accent-text); display: grid; place-items: center; }

/* Phones: the panel takes the whole screen. */
@media (max-width: 480px) {
  .panel { inset: 0; width: 100%; height: 100%; max-height: 100dvh; border-radius: 0; border: 0; }
  :host([data-position="left"]) .panel { left: 0; }
  .launcher { bottom: 16px; right: 16px; }
}
@media (prefers-reduced-motion: reduce) {
  .panel, .launcher, .typing .dot { animation: none; transition: none; }
  .messages, .cards { scroll-behavior: auto; }
}
@media (forced-colors: active) {
  .launcher, .send, .bubble, .quick button, .feedback button, .card, .card-actions button { border: 1px solid CanvasText; }
}
`;

  // -- the element -------------------------------------------------------------------------------------
  class SupportbotChat extends HTMLElement {
    constructor() {
      super();
      this.attachShadow({ mode: "open" });
      this.local = safeStorage("localStorage");
      this.session = safeStorage("sessionStorage");
      this.outbox = []; // messages not yet handed to the server: {id, seq, text, metadata, item, sentAs?}
      this.seq = 0; // the order messages were written in (a message sent again keeps its place)
      this.inflight = new Map(); // id → message sent, waiting for its replies
      this.socket = null;
      this.mode = null; // "ws" | "http", chosen on first connect
      this.connected = false;
      this.down = false; // lost the server after having (tried to) reach it: show "Reconnecting…"
      this.everOpened = false; // did a socket ever open on this page? (then never fall back to HTTP)
      this.wsFailures = 0;
      this.attempt = 0; // reconnect attempts since the last success
      this.retryTimer = null;
      this.resendTimer = null; // sends again the messages the server could not take yet (resendLater)
      this.historyState = "none"; // none | loading | loaded
      this.sentThisPage = false;
      this.started = false;
      this.revealTarget = null; // the first of the latest bot messages, shown from its top when long
      this.shownIds = new Set(); // ids of the bot replies on screen (a pushed one may also be in the history)
      this.openedBy = null; // the page trigger that opened the panel (closing it is a dismissal)
      this.openedThisPage = false; // page triggers never fire once the chat was open on this page
      this.lastKeyAt = 0;
      this.triggerTimers = [];
    }

    // -- configuration ---------------------------------------------------------------------------------
    option(name) {
      const value = this.dataset[name];
      return value !== undefined ? value : OPTIONS[name];
    }
    text(name) {
      const value = this.dataset[name];
      return value !== undefined ? value : STRINGS[name];
    }
    /** Characters per message (data-max-length); no limit when it is not a positive number. */
    get maxLength() {
      const value = Number.parseInt(this.option("maxLength"), 10);
      return value > 0 ? value : Infinity;
    }
    get serverBase() {
      const configured = (this.option("server") || "").trim();
      const base = configured ? new URL(configured, location.href).href : SCRIPT_ORIGIN + "/";
      return base.endsWith("/") ? base : base + "/";
    }
    get conversationKey() {
      return `${this.option("storageKey")}:conversation`;
    }
    get conversationId() {
      let id = this.local.get(this.conversationKey);
      if (!id) {
        id = newId();
        this.local.set(this.conversationKey, id);
      }
      return id;
    }
    /** The conversation's token: the server's proof that this device may read and continue it. */
    get tokenKey() {
      return `${this.option("storageKey")}:token`;
    }
    get conversationToken() {
      return this.local.get(this.tokenKey) || "";
    }
    /** Keep the fresh token of an answer, if it is for the conversation shown now. */
    keepToken(sender, token) {
      if (token && sender === this.conversationId) this.local.set(this.tokenKey, token);
    }
    /** Headers of an HTTP request in this conversation. */
    headers(extra = {}) {
      const token = this.conversationToken;
      return token ? { ...extra, [TOKEN_HEADER]: token } : extra;
    }
    /** A message's metadata as sent: with the shop's customer token (data-customer-token), when set. */
    metadataOf(message) {
      const customerToken = this.option("customerToken");
      if (!customerToken) return message.metadata || null;
      return { ...(message.metadata || {}), customer_token: customerToken };
    }

    // -- lifecycle -------------------------------------------------------------------------------------
    connectedCallback() {
      if (this.started) return;
      this.started = true;
      if (!this.panel) this.render(); // once, even if the element is moved around the page
      this.onOnline = () => {
        this.updateNotice();
        this.reconnectNow();
      };
      this.onOffline = () => {
        // Browsers keep a dead socket "open" for a long time; drop it now and queue instead.
        if (this.socket) this.socket.close();
        this.updateNotice();
      };
      window.addEventListener("online", this.onOnline);
      window.addEventListener("offline", this.onOffline);
      const wasOpen = this.session.get(`${this.option("storageKey")}:open`) === "1";
      if (wasOpen || this.option("open") === "true") this.open({ focus: false });
      else if (this.local.get(this.conversationKey) && this.conversationToken) this.connect(); // pushed messages arrive
      this.onKey = () => {
        this.lastKeyAt = Date.now();
      };
      document.addEventListener("keydown", this.onKey, true);
      this.startTriggers();
    }

    disconnectedCallback() {
      window.removeEventListener("online", this.onOnline);
      window.removeEventListener("offline", this.onOffline);
      document.removeEventListener("keydown", this.onKey, true);
      this.triggerTimers.forEach(clearTimeout);
      this.triggerTimers = [];
      clearTimeout(this.retryTimer);
      clearTimeout(this.resendTimer);
      if (this.socket) {
        this.socket.onclose = null;
        this.socket.close();
      }
      this.started = false;
    }

    render() {
      const root = this.shadowRoot;
      if ("adoptedStyleSheets" in root && typeof CSSStyleSheet === "function" && "replaceSync" in CSSStyleSheet.prototype) {
        const sheet = new CSSStyleSheet();
        sheet.replaceSync(CSS);
        root.adoptedStyleSheets = [sheet];
      } else {
        root.append(h("style", { text: CSS }));
      }
      this.launcher = h(
        "button",
        { class: "launcher", type: "button", part: "launcher", "aria-label": this.text("launcherLabel"),
          "aria-expanded": "false", "aria-controls": "panel", "aria-haspopup": "dialog" },
        icon(ICONS.chat),
      );
      this.badge = h("span", { class: "badge", hidden: true });
      this.launcher.append(this.badge);
      this.titleEl = h("h2", { class: "title", id: "title", text: this.text("title") });
      const subtitle = this.text("subtitle") ? h("p", { class: "subtitle", text: this.text("subtitle") }) : null;
      this.newButton = h(
        "button",
        { class: "icon-button", type: "button", "aria-label": this.text("newConversationLabel"),
          title: this.text("newConversationLabel") },
        icon(ICONS.restart),
      );
      this.closeButton = h(
        "button",
        { class: "icon-button", type: "button", "aria-label": this.text("closeLabel"), title: this.text("closeLabel") },
        icon(ICONS.close),
      );
      this.notice = h("p", { class: "notice", role: "status", hidden: true });
      this.list = h("ol", { class: "messages", "aria-label": this.text("messagesLabel"), tabindex: "0" });
      this.typing = h(
        "li",
        { class: "typing", hidden: true },
        h("span", { class: "bubble" }, h("span", { class: "dot" }), h("span", { class: "dot" }),
          h("span", { class: "dot" }), h("span", { class: "visually-hidden", text: this.text("typingLabel") })),
      );
      // No maxlength attribute, which would cut a long paste silently. The counter below says when a
      // message is over data-max-length, and such a message is not sent until it is shortened.
      this.input = h("input", {
        id: "input", type: "text", autocomplete: "off", enterkeyhint: "send", placeholder: this.text("placeholder"),
      });
      this.limit = h("p", { class: "limit", id: "limit", hidden: true });
      this.limitState = "ok";
      this.form = h(
        "form",
        { class: "composer", novalidate: true },
        h("label", { class: "visually-hidden", for: "input", text: this.text("inputLabel") }),
        this.input,
        h("button", { class: "send", type: "submit", "aria-label": this.text("sendLabel") }, icon(ICONS.send)),
        this.limit,
      );
      // Screen readers hear new bot messages from here (the list itself is not live, so restoring
      // history does not read the whole conversation out).
      this.live = h("div", { class: "visually-hidden", "aria-live": "polite", "aria-atomic": "false" });
      this.panel = h(
        "section",
        { class: "panel", id: "panel", part: "panel", role: "dialog", "aria-labelledby": "title", hidden: true },
        h("header", { class: "header" }, h("div", { class: "header-text" }, this.titleEl, subtitle),
          this.newButton, this.closeButton),
        this.notice,
        this.list,
        this.form,
        this.live,
      );
      // "Maria is typing…": a live agent (docs/console.md), shown for a few seconds after each signal.
      this.agentTyping = h("li", { class: "agent-typing", role: "status", hidden: true });
      this.list.append(this.agentTyping, this.typing);
      this.agentPresent = false; // a person from the team answers now: the customer's typing is shown to them
      this.lastTypingSentAt = 0;
      root.append(this.launcher, this.panel);

      this.launcher.addEventListener("click", () => this.open());
      this.closeButton.addEventListener("click", () => this.close());
      this.newButton.addEventListener("click", () => this.newConversation());
      this.panel.addEventListener("keydown", (event) => {
        if (event.key === "Escape") {
          event.stopPropagation();
          this.close();
        }
      });
      this.input.addEventListener("input", () => {
        this.updateLimit();
        this.sendTyping();
      });
      this.form.addEventListener("submit", (event) => {
        event.preventDefault();
        const text = this.input.value.trim();
        if (!text) return;
        if (this.updateLimit() === "over") {
          // Not sent and nothing lost: the customer shortens it. Say why again.
          this.announce(this.limit.textContent);
          this.input.focus();
          return;
        }
        this.input.value = "";
        this.updateLimit();
        this.send(text);
      });
    }

    // -- public API ------------------------------------------------------------------------------------
    open({ focus = true } = {}) {
      this.openedThisPage = true;
      this.setUnread(false);
      this.panel.hidden = false;
      this.launcher.hidden = true;
      this.launcher.setAttribute("aria-expanded", "true");
      this.session.set(`${this.option("storageKey")}:open`, "1");
      if (this.startOnOpen) {
        this.startOnOpen = false;
        this.startConversation();
      }
      this.connect();
      if (this.revealTarget && this.revealTarget.isConnected) this.reveal(this.revealTarget);
      else this.scrollToEnd();
      if (focus) this.input.focus();
    }

    close() {
      this.panel.hidden = true;
      this.launcher.hidden = false;
      this.launcher.setAttribute("aria-expanded", "false");
      this.session.set(`${this.option("storageKey")}:open`, "0");
      if (this.openedBy) this.local.set(this.triggerKey(this.openedBy, "dismissed"), String(Date.now()));
      this.openedBy = null;
      this.launcher.focus();
    }

    /** A message arrived while the panel is closed: a dot on the launcher, and its name says so. */
    setUnread(unread) {
      this.badge.hidden = !unread;
      this.launcher.setAttribute("aria-label", this.text(unread ? "unreadLabel" : "launcherLabel"));
    }

    /** Send a customer message (typed text, or a button payload with its title as `display`). */
    send(text, metadata = null, display = null) {
      this.openedBy = null; // the customer took up the conversation: closing is no longer a dismissal
      const id = newId();
      const item = this.addMessage({ role: "user", text: display || text });
      const message = { id, seq: ++this.seq, text, metadata, item };
      this.sentThisPage = true;
      this.outbox.push(message);
      this.setPending(item, "queued");
      this.flush();
      this.scrollToEnd();
    }

    /** A fresh conversation: a new id (the old one stays on the server, no longer shown here). */
    newConversation() {
      this.agentPresent = false;
      this.local.set(this.conversationKey, newId());
      this.local.remove(this.tokenKey);
      this.outbox = [];
      this.inflight.clear();
      for (const el of [...this.list.children]) if (el !== this.typing && el !== this.agentTyping) el.remove();
      this.updateTyping();
      this.historyState = "loaded";
      this.sentThisPage = false;
      this.startConversation();
      this.input.focus();
    }

    // -- page triggers (docs/proactive.md): the widget opens by itself with a message ----------------------
    triggerKey(id, what) {
      return `${this.option("storageKey")}:trigger:${id}:${what}`;
    }

    /** The page's values (data-page-values, a JSON object); {} when absent or not an object. */
    get pageValues() {
      try {
        const values = JSON.parse(this.option("pageValues") || "{}");
        return values && typeof values === "object" && !Array.isArray(values) ? values : {};
      } catch {
        return {};
      }
    }

    /** Did this browser visit before this visit (a session)? Counted once per visit. */
    get returningVisitor() {
      const key = this.option("storageKey");
      let returning = this.session.get(`${key}:returning`);
      if (returning === null) {
        returning = this.local.get(`${key}:visited`) ? "1" : "0";
        this.session.set(`${key}:returning`, returning);
        this.local.set(`${key}:visited`, String(Date.now()));
      }
      return returning === "1";
    }

    async startTriggers() {
      const returning = this.returningVisitor; // counts the visit on every page, triggers or not
      const source = this.option("triggers");
      if (source === "off") return;
      let triggers;
      try {
        const url = source ? new URL(source, location.href) : new URL("widget/triggers", this.serverBase);
        const response = await fetch(url, { headers: { Accept: "application/json" } });
        if (!response.ok) return;
        triggers = (await response.json()).triggers;
      } catch {
        return; // no triggers: the widget works as before
      }
      if (!Array.isArray(triggers) || !this.started) return;
      const values = this.pageValues;
      for (const trigger of triggers) {
        if (!this.triggerApplies(trigger, values, returning)) continue;
        const delay = Math.max(0, Number(trigger.after_seconds) || 0) * 1000;
        this.triggerTimers.push(setTimeout(() => this.fireTrigger(trigger, values), delay));
      }
    }

    /** The trigger's page, visitor and value conditions, and its caps (checked again when it fires). */
    triggerApplies(trigger, values, returning) {
      if (!trigger || typeof trigger.id !== "string" || typeof trigger.message !== "string") return false;
      try {
        if (!new RegExp(trigger.page).test(location.pathname)) return false;
      } catch {
        return false;
      }
      if (typeof trigger.returning_visitor === "boolean" && trigger.returning_visitor !== returning) return false;
      for (const [name, condition] of Object.entries(trigger.values || {})) {
        if (!valueHolds(values[name], condition || {})) return false;
      }
      return this.triggerAllowed(trigger);
    }

    triggerAllowed(trigger) {
      if (trigger.once_per_visit !== false && this.session.get(this.triggerKey(trigger.id, "shown"))) return false;
      const dismissed = Number(this.local.get(this.triggerKey(trigger.id, "dismissed")) || 0);
      const quietDays = Number(trigger.dismiss_days ?? 1);
      if (dismissed && Date.now() - dismissed < quietDays * DAY_MS) return false;
      const day = this.triggerDay(trigger);
      return day.count < Math.max(1, Number(trigger.max_per_day) || 1);
    }

    /** How often the trigger was shown today: {date, count} (a new day starts at 0). */
    triggerDay(trigger) {
      const today = new Date().toLocaleDateString("en-CA"); // YYYY-MM-DD, local time
      try {
        const day = JSON.parse(this.local.get(this.triggerKey(trigger.id, "day")) || "{}");
        return day.date === today ? { date: today, count: Number(day.count) || 0 } : { date: today, count: 0 };
      } catch {
        return { date: today, count: 0 };
      }
    }

    fireTrigger(trigger, values) {
      if (!this.started || this.openedThisPage || !this.panel.hidden) return; // the chat is (or was) open
      const typing = this.input.value.trim() || Date.now() - this.lastKeyAt < TYPING_QUIET_MS;
      if (typing) {
        this.triggerTimers.push(setTimeout(() => this.fireTrigger(trigger, values), TRIGGER_RECHECK_MS));
        return;
      }
      if (!this.triggerAllowed(trigger)) return;
      this.session.set(this.triggerKey(trigger.id, "shown"), "1");
      const day = this.triggerDay(trigger);
      this.local.set(this.triggerKey(trigger.id, "day"), JSON.stringify({ date: day.date, count: day.count + 1 }));
      this.triggerTimers.forEach(clearTimeout); // one trigger per page
      this.triggerTimers = [];
      this.sentThisPage = true; // the trigger's message opens the conversation: no greeting, no start payload
      const buttons = (Array.isArray(trigger.quick_replies) ? trigger.quick_replies : [])
        .map((q) => (typeof q === "string" ? { title: q, payload: q } : q))
        .filter((q) => q && q.title && q.payload)
        .map((q) => ({ title: String(q.title), payload: String(q.payload) }));
      this.open({ focus: false });
      this.openedBy = trigger.id;
      const item = this.addMessage({ role: "bot", plain: true, text: fill(trigger.message, values), buttons }, { announce: true });
      item.classList.add("trigger");
      item.dataset.trigger = trigger.id;
    }

    // -- transport -------------------------------------------------------------------------------------
    connect() {
      if (this.mode === null) {
        const transport = this.option("transport");
        this.mode = transport === "http" || !("WebSocket" in window) ? "http" : "ws";
      }
      if (this.mode === "http") {
        this.connected = navigator.onLine !== false;
        this.loadHistory();
        this.flush();
        return;
      }
      if (this.socket || navigator.onLine === false) {
        this.updateNotice();
        return;
      }
      clearTimeout(this.retryTimer);
      const url = new URL("ws/chat", this.serverBase);
      url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
      let socket;
      try {
        socket = new WebSocket(url.href);
      } catch {
        this.onSocketClosed(null, false);
        return;
      }
      this.socket = socket;
      let opened = false;
      socket.onopen = () => {
        opened = true;
        this.everOpened = true;
        this.connected = true;
        this.down = false;
        this.attempt = 0;
        this.wsFailures = 0;
        this.updateNotice();
        const restored = this.historyState === "loaded";
        this.loadHistory();
        if (restored && this.conversationToken) {
          // A new socket proves the conversation again, so the server pushes its messages here (and
          // those that waited while the line was down); the answer's one message is already shown.
          socket.send(JSON.stringify({ type: "history", sender: this.conversationId, token: this.conversationToken, limit: 1 }));
        }
        this.flush();
      };
      socket.onmessage = (event) => {
        let frame;
        try {
          frame = JSON.parse(event.data);
        } catch {
          return;
        }
        this.onFrame(frame);
      };
      socket.onclose = () => this.onSocketClosed(socket, opened);
    }

    onSocketClosed(socket, opened) {
      if (socket && this.socket !== socket) return;
      this.socket = null;
      this.connected = false;
      this.down = true;
      // Messages sent but unanswered when the line dropped go back to the front of the outbox.
      const unanswered = [...this.inflight.values()];
      this.inflight.clear();
      for (const message of unanswered) this.setPending(message.item, "queued");
      this.outbox.unshift(...unanswered);
      this.updateTyping();
      if (this.historyState === "loading") this.historyState = "none";
      if (!opened && navigator.onLine !== false && !this.everOpened) this.wsFailures += 1;
      if (this.option("transport") === "auto" && this.wsFailures >= WS_FAILURES_BEFORE_HTTP) {
        this.mode = "http"; // WebSockets never worked here (a proxy, a firewall): use POST /chat
        this.connect();
        return;
      }
      this.updateNotice();
      this.scheduleRetry();
    }

    /**
     * The server could not take `message` yet (a 503: it is starting, or could not save the conversation).
     * Tell the customer it is being retried and flush again after an exponential backoff with jitter, never
     * sooner than the server's Retry-After; false once RESEND_MAX_ATTEMPTS are used up (the caller then
     * shows "Not sent" with the Retry button). The caller keeps the message first in the outbox.
     */
    resendLater(message, minDelayMs) {
      message.attempts = (message.attempts || 0) + 1;
      if (message.attempts > RESEND_MAX_ATTEMPTS) {
        message.attempts = 0;
        return false;
      }
      this.setPending(message.item, "retrying");
      const backoff = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (message.attempts - 1));
      const delay = Math.max(minDelayMs, backoff / 2 + (Math.random() * backoff) / 2);
      clearTimeout(this.resendTimer);
      this.resendTimer = setTimeout(() => this.flush(), delay);
      return true;
    }

    /** Exponential backoff with "equal jitter": half the delay fixed, half random. */
    scheduleRetry() {
      clearTimeout(this.retryTimer);
      if (navigator.onLine === false) return; // the "online" event reconnects
      const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** this.attempt);
      this.attempt += 1;
      this.retryTimer = setTimeout(() => {
        if (this.mode === "http") this.flush();
        else this.connect();
      }, delay / 2 + (Math.random() * delay) / 2);
    }

    reconnectNow() {
      this.attempt = 0;
      clearTimeout(this.retryTimer);
      if (this.panel.hidden && !this.socket && this.mode === null) return; // never opened: nothing to do
      if (this.mode === "http") {
        this.connected = true;
        this.flush();
      } else this.connect();
    }

    loadHistory() {
      if (this.historyState !== "none") return;
      if (!this.local.get(this.conversationKey) || !this.conversationToken) {
        // A new visitor, or a conversation this device holds no token for: nothing to restore.
        if (this.local.get(this.conversationKey)) this.local.set(this.conversationKey, newId());
        this.historyState = "loaded";
        this.startConversation();
        return;
      }
      this.historyState = "loading";
      const sender = this.conversationId;
      if (this.mode === "ws") {
        this.socket.send(JSON.stringify({ type: "history", sender, token: this.conversationToken }));
        return;
      }
      const url = new URL(`conversations/${encodeURIComponent(sender)}/history`, this.serverBase);
      fetch(url, { headers: this.headers({ Accept: "application/json" }) })
        .then(async (response) => {
          const body = await response.json().catch(() => ({}));
          if (response.ok) this.onFrame({ type: "history", ...body });
          else if (TOKEN_CODES.has(body.error && body.error.code)) this.historyRefused();
          else this.showHistory([]);
        })
        .catch(() => {
          this.historyState = "none"; // retried on the next (re)connect
        });
    }

    /** The server refused this device the stored conversation: carry on in a new one. */
    historyRefused() {
      if (this.historyState !== "loading") return;
      this.renewConversation();
      this.historyState = "loaded";
      this.startWhenOpen();
    }

    /**
     * A new conversation, because the server no longer accepts this one's token (expired, or the server's
     * key changed). What is on screen stays, under a separator; nothing typed is lost: the caller sends the
     * refused messages again.
     */
    renewConversation() {
      this.local.set(this.conversationKey, newId());
      this.local.remove(this.tokenKey);
      if ([...this.list.children].some((el) => el !== this.typing && el !== this.agentTyping)) this.addMessage({ role: "separator" });
    }

    /** `message` was refused for its conversation's token: send it again, in a new conversation if need be. */
    tokenRefused(message) {
      const sentAs = message.sentAs || {};
      if (sentAs.sender === this.conversationId && (sentAs.token || "") === this.conversationToken) {
        this.renewConversation(); // the credentials it went with are the current ones: they are dead
      }
      message.tokenRetries = (message.tokenRetries || 0) + 1;
      if (message.tokenRetries > TOKEN_RESEND_MAX) {
        message.tokenRetries = 0; // the Retry button starts over
        this.setPending(message.item, "failed", message);
        return;
      }
      this.requeue(message);
    }

    /** Put `message` back in the outbox at its place (the order the customer wrote in). */
    requeue(message) {
      const at = this.outbox.findIndex((m) => (m.seq || 0) > (message.seq || 0));
      this.outbox.splice(at < 0 ? this.outbox.length : at, 0, message);
      this.setPending(message.item, "queued");
    }

    flush() {
      if (this.mode === "http") return this.flushHttp();
      if (!this.socket || this.socket.readyState !== WebSocket.OPEN) return;
      while (this.outbox.length) {
        // The first message of a conversation goes alone: the next ones wait for its answer's token.
        if (!this.conversationToken && this.inflight.size) break;
        const message = this.outbox.shift();
        const sentAs = { sender: this.conversationId, token: this.conversationToken };
        const frame = { type: "message", sender: sentAs.sender, text: message.text, id: message.id };
        if (sentAs.token) frame.token = sentAs.token;
        const metadata = this.metadataOf(message);
        if (metadata) frame.metadata = metadata;
        message.sentAs = sentAs;
        this.socket.send(JSON.stringify(frame));
        this.inflight.set(message.id, message);
        this.setPending(message.item, null);
      }
      this.updateTyping();
    }

    async flushHttp() {
      if (this.httpBusy) return;
      this.httpBusy = true;
      try {
        // One at a time, in order, like the socket.
        while (this.outbox.length) {
          const message = this.outbox[0];
          this.inflight.set(message.id, message);
          this.setPending(message.item, null);
          this.updateTyping();
          let response;
          const sentAs = { sender: this.conversationId, token: this.conversationToken };
          message.sentAs = sentAs;
          try {
            response = await fetch(new URL("chat", this.serverBase), {
              method: "POST",
              headers: this.headers({ "Content-Type": "application/json", Accept: "application/json" }),
              body: JSON.stringify({ sender: sentAs.sender, message: message.text, metadata: this.metadataOf(message) || undefined }),
            });
          } catch {
            // The network is down: keep it queued and try again later.
            this.inflight.delete(message.id);
            this.setPending(message.item, "queued");
            this.connected = false;
            this.down = true;
            this.updateTyping();
            this.updateNotice();
            this.scheduleRetry();
            return;
          }
          this.connected = true;
          this.down = false;
          this.attempt = 0;
          this.updateNotice();
          if (response.status === 503 && this.resendLater(message, retryAfterMs(response))) {
            this.inflight.delete(message.id); // not taken: it stays first in the outbox, sent again later
            return;
          }
          this.outbox.shift();
          if (response.ok) {
            const body = await response.json();
            this.onFrame({ type: "replies", sender: body.sender, token: body.token, replies: body.replies || [], in_reply_to: message.id });
          } else {
            const body = await response.json().catch(() => ({}));
            this.onFrame({ type: "error", error: body.error || { code: "error" }, in_reply_to: message.id });
          }
        }
      } finally {
        this.httpBusy = false;
        this.updateTyping();
      }
    }

    /** Tell the live agent the customer is typing (WebSocket only; at most one frame every 2 s). */
    sendTyping() {
      const now = Date.now();
      if (!this.agentPresent || now - this.lastTypingSentAt < 2000 || !this.input.value.trim()) return;
      if (!this.socket || this.socket.readyState !== WebSocket.OPEN || !this.conversationToken) return;
      this.lastTypingSentAt = now;
      this.socket.send(JSON.stringify({ type: "typing", sender: this.conversationId, token: this.conversationToken }));
    }

    showAgentTyping(agent) {
      const name = (agent && agent.name) || "";
      this.agentTyping.textContent = this.text("agentTypingText").replace("{name}", name);
      this.agentTyping.hidden = false;
      window.clearTimeout(this.agentTypingTimer);
      this.agentTypingTimer = window.setTimeout(() => { this.agentTyping.hidden = true; }, 4000);
      this.scrollToEnd();
    }

    onFrame(frame) {
      if (frame.type === "agent_typing") {
        if (frame.sender === this.conversationId) this.showAgentTyping(frame.agent);
      } else if (frame.type === "typing") {
        this.updateTyping(); // the indicator already shows from send; nothing more to do
      } else if (frame.type === "replies" && frame.proactive) {
        // Pushed by the server (an event, a reminder): for the conversation shown, each reply once.
        if (frame.sender !== this.conversationId) return;
        this.keepToken(frame.sender, frame.token);
        const fresh = (frame.replies || []).filter((reply) => !(reply.id && this.shownIds.has(reply.id)));
        this.showReplies(fresh);
        if (fresh.length && this.panel.hidden) this.setUnread(true);
      } else if (frame.type === "replies") {
        if (frame.in_reply_to) this.inflight.delete(frame.in_reply_to);
        this.keepToken(frame.sender, frame.token);
        this.updateTyping();
        this.showReplies(frame.replies || []);
        if (this.outbox.length) this.flush(); // messages waiting for this conversation's first token
      } else if (frame.type === "history") {
        this.keepToken(frame.sender, frame.token);
        this.showHistory(frame.messages || []);
      } else if (frame.type === "error") {
        const code = frame.error && frame.error.code;
        const message = frame.in_reply_to && this.inflight.get(frame.in_reply_to);
        if (message) {
          this.inflight.delete(frame.in_reply_to);
          // Over HTTP a 503 was already retried (flushHttp); a socket's error frame is retried here.
          const retryable = this.mode === "ws" && RESEND_CODES.has(code);
          if (TOKEN_CODES.has(code)) this.tokenRefused(message);
          else if (retryable && this.resendLater(message, 0)) this.outbox.unshift(message);
          else this.setPending(message.item, "failed", message);
        } else if (!frame.in_reply_to && TOKEN_CODES.has(code)) {
          this.historyRefused(); // the answer to a history frame (it has no id)
        }
        this.updateTyping();
        if (TOKEN_CODES.has(code)) this.flush();
      }
    }

    // -- rendering ---------------------------------------------------------------------------------------
    showReplies(replies) {
      let first = null;
      for (const reply of replies) {
        if (reply.handoff) this.agentPresent = reply.handoff === "joined" || reply.handoff === "message";
        if (reply.agent) {
          window.clearTimeout(this.agentTypingTimer);
          this.agentTyping.hidden = true;
        }
        const item = this.addMessage({ role: "bot", ...reply }, { announce: true, scroll: false });
        first ||= item;
      }
      if (first) this.reveal(first);
      else this.scrollToEnd();
    }

    showHistory(messages) {
      if (this.historyState === "loaded") return;
      this.historyState = "loaded";
      // A reply pushed while the history was on its way is already on screen.
      messages = messages.filter((m) => !(m.role === "bot" && m.id && this.shownIds.has(m.id)));
      const fragment = document.createDocumentFragment();
      // Quick replies are live only after the customer's last message (older ones were answered).
      let lastUser = -1;
      messages.forEach((m, i) => {
        if (m.role === "user") lastUser = i;
      });
      messages.forEach((m, i) => fragment.append(this.messageItem(m, { buttons: i > lastUser })));
      // History goes above anything sent while it was loading.
      this.list.insertBefore(fragment, this.list.firstChild);
      this.scrollToEnd();
      if (!messages.length) this.startWhenOpen();
    }

    /** Greet when the customer opens the chat (not while the widget only listens for pushed messages). */
    startWhenOpen() {
      if (this.panel.hidden) this.startOnOpen = true;
      else this.startConversation();
    }

    startConversation() {
      if (this.sentThisPage) return;
      if (this.text("greeting")) this.addMessage({ role: "bot", text: this.text("greeting") });
      const payload = this.option("startPayload");
      if (payload) {
        this.sentThisPage = true;
        const id = newId();
        this.outbox.push({ id, seq: ++this.seq, text: payload, metadata: { silent: true }, item: null });
        this.flush();
      }
    }

    addMessage(message, { announce = false, scroll = true } = {}) {
      const item = this.messageItem(message, { buttons: true });
      this.list.insertBefore(item, this.agentTyping);
      // The rendered text (with its "Assistant:" prefix), not the Markdown source.
      if (announce && message.text) this.announce(item.querySelector(".bubble").textContent);
      if (scroll) this.scrollToEnd();
      return item;
    }

    messageItem(message, { buttons }) {
      if (message.role === "separator") {
        return h("li", { class: "separator", role: "separator", text: this.text("separatorText") });
      }
      const isBot = message.role === "bot";
      if (isBot && message.id) this.shownIds.add(message.id);
      const cards = isBot && Array.isArray(message.cards) ? message.cards : [];
      const agent = isBot && message.agent && message.agent.name ? String(message.agent.name) : "";
      const item = h("li", { class: `msg ${isBot ? "bot" : "user"}${cards.length ? " has-cards" : ""}${agent ? " agent" : ""}` });
      const speaker = agent || (isBot ? this.text("botName") : this.text("youLabel"));
      const who = h("span", { class: "visually-hidden", text: `${speaker}: ` });
      if (agent) item.append(h("span", { class: "agent-name", "aria-hidden": "true", text: agent }));
      const bubble = h("div", { class: "bubble" });
      if (isBot && !message.plain && this.option("markdown") !== "false") {
        bubble.append(renderMarkdown(message.text || "", this.serverBase));
      } else {
        bubble.classList.add("plain");
        bubble.textContent = message.text || "";
      }
      bubble.prepend(who);
      if (message.text || !cards.length) item.append(bubble);
      else item.append(who); // cards only: no empty bubble, but still "Assistant:" for screen readers
      if (!isBot) return item;
      if (cards.length) item.append(this.cardList(cards));
      const remembered = Array.isArray(message.remembered) ? message.remembered.map(String).filter(Boolean) : [];
      if (remembered.length) {
        const note = `${this.text("rememberedLabel")}: ${remembered.join(", ")}`;
        item.append(h("p", { class: "remembered", role: "status", text: note }));
      }
      // Sources the text already cites as links (the knowledge answer template does) are not listed twice.
      const uncited = (message.sources || []).filter((source) => !(source.url && (message.text || "").includes(source.url)));
      if (uncited.length) item.append(this.sourcesBlock(uncited));
      const feedback = this.option("feedback");
      const wantsFeedback = feedback === "all" || (feedback === "answers" && message.sources && message.sources.length);
      if (message.id && wantsFeedback) item.append(this.feedbackBlock(message.id, message.feedback));
      if (buttons && message.buttons && message.buttons.length) item.append(this.quickReplies(message.buttons));
      return item;
    }

    /** An address from the server: a site-relative one ("/products/KN-104") is on the bot's server, so
     * it still works when the widget is embedded on another site. The absolute URL, or null when unsafe. */
    serverHref(url) {
      const raw = String(url || "").trim();
      return safeHref(/^\/(?!\/)/.test(raw) ? raw.slice(1) : raw, this.serverBase);
    }

    /** Product cards: a horizontal, scroll-snapping list; Tab reaches each card, Left/Right (Home/End)
     * move between them. Every text goes in with textContent (through h). */
    cardList(cards) {
      const list = h("ul", { class: "cards", role: "list", "aria-label": this.text("cardsLabel") });
      for (const card of cards) list.append(this.cardItem(card));
      list.addEventListener("keydown", (event) => {
        const items = [...list.children];
        const current = items.findIndex((el) => el.contains(event.target));
        const moves = { ArrowRight: current + 1, ArrowLeft: current - 1, Home: 0, End: items.length - 1 };
        if (current < 0 || !(event.key in moves) || event.altKey || event.ctrlKey || event.metaKey) return;
        event.preventDefault();
        items[Math.max(0, Math.min(items.length - 1, moves[event.key]))].focus();
      });
      // A focused card is shown whole, at the start of the list: its snap point ("nearest" would scroll
      // less than half a card and snap back, leaving the card that peeks in half hidden).
      list.addEventListener("focusin", (event) => {
        if (event.target.parentElement === list) event.target.scrollIntoView({ block: "nearest", inline: "start" });
      });
      return list;
    }

    cardItem(card) {
      const id = `card-${newId()}`;
      const title = String(card.title || "");
      const item = h("li", { class: "card", role: "listitem", tabindex: "0", "aria-labelledby": `${id}-title ${id}-price` });
      const image = card.image_url ? this.serverHref(card.image_url) : null;
      if (image) item.append(h("img", { class: "card-image", src: image, alt: title, loading: "lazy", width: 210, height: 130 }));
      item.append(h("p", { class: "card-title", id: `${id}-title`, text: title }));
      item.append(h("p", { class: "card-price", id: `${id}-price`, text: String(card.price || "") }));
      const colours = Array.isArray(card.colours) ? card.colours.map(String) : [];
      if (colours.length) item.append(h("p", { class: "card-meta", text: `${this.text("cardColoursLabel")}: ${colours.join(", ")}` }));
      const sizes = Array.isArray(card.sizes) ? card.sizes.map(String) : [];
      const stock = sizes.length ? `${this.text("cardSizesLabel")}: ${sizes.join(" ")}` : this.text("soldOutText");
      item.append(h("p", { class: "card-meta", text: stock }));
      const page = card.url ? this.serverHref(card.url) : null;
      if (page) {
        // The shop's own pages open in this tab (the widget follows, open); another site's in a new one.
        const sameSite = new URL(page).origin === location.origin;
        const link = sameSite
          ? h("a", { class: "card-link", href: page, text: this.text("productLinkLabel") })
          : h("a", { class: "card-link", href: page, target: "_blank", rel: "noopener noreferrer", text: this.text("productLinkLabel") });
        link.setAttribute("aria-describedby", `${id}-title`);
        item.append(link);
      }
      const buttons = Array.isArray(card.buttons) ? card.buttons : [];
      if (buttons.length) {
        const actions = h("div", { class: "card-actions" });
        for (const button of buttons) {
          const el = h("button", { type: "button", text: String(button.title || ""), "aria-describedby": `${id}-title` });
          // Like a quick reply: the payload goes to the bot, the title shows as the customer's message.
          el.addEventListener("click", () => this.send(String(button.payload || ""), { display: button.title }, button.title));
          actions.append(el);
        }
        item.append(actions);
      }
      return item;
    }

    sourcesBlock(sources) {
      const list = h("ul");
      for (const source of sources) {
        const href = source.url ? safeHref(source.url, this.serverBase) : null;
        list.append(h("li", {}, href ? externalLink(href, source.title) : document.createTextNode(source.title)));
      }
      return h("div", { class: "sources" }, h("span", { text: `${this.text("sourcesLabel")}:` }), list);
    }

    feedbackBlock(replyId, current) {
      const group = h("div", { class: "feedback", role: "group", "aria-label": this.text("feedbackLabel") });
      const thanks = h("span", { class: "feedback-thanks", role: "status" });
      // The visible words are the buttons' names (no separate aria-label that could disagree with them).
      const make = (value, label, paths) => {
        const button = h(
          "button",
          { type: "button", "aria-pressed": String(current === value), "data-value": value },
          icon(paths),
          h("span", { text: label }),
        );
        button.addEventListener("click", () => this.sendFeedback(replyId, value, group, thanks));
        return button;
      };
      group.append(make("up", this.text("helpfulLabel"), ICONS.up), make("down", this.text("notHelpfulLabel"), ICONS.down), thanks);
      return group;
    }

    async sendFeedback(replyId, value, group, thanks) {
      const buttons = group.querySelectorAll("button");
      const previous = [...buttons].map((b) => b.getAttribute("aria-pressed"));
      buttons.forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.value === value)));
      try {
        const response = await fetch(new URL("feedback", this.serverBase), {
          method: "POST",
          headers: this.headers({ "Content-Type": "application/json" }),
          body: JSON.stringify({ sender: this.conversationId, reply_id: replyId, value }),
        });
        if (!response.ok) throw new Error(`feedback: HTTP ${response.status}`);
        const body = await response.json().catch(() => ({}));
        this.keepToken(body.sender, body.token);
        thanks.textContent = this.text("feedbackThanks");
        // A thumbs down is answered: an apology, other answers and a person as quick replies.
        if (Array.isArray(body.replies) && body.replies.length) this.showReplies(body.replies);
      } catch {
        buttons.forEach((b, i) => b.setAttribute("aria-pressed", previous[i]));
      }
    }

    quickReplies(buttons) {
      const group = h("div", { class: "quick", role: "group", "aria-label": this.text("quickRepliesLabel") });
      for (const button of buttons) {
        const el = h("button", { type: "button", text: button.title });
        el.addEventListener("click", () => {
          // Used: the group goes, and focus moves to the input rather than getting lost.
          group.remove();
          this.send(button.payload, { display: button.title }, button.title);
          this.input.focus();
        });
        group.append(el);
      }
      return group;
    }

    setPending(item, state, message = null) {
      if (!item) return;
      item.querySelector(".status-line")?.remove();
      if (state === "queued") {
        item.append(h("span", { class: "status-line", text: this.text("queuedLabel") }));
      } else if (state === "retrying") {
        item.append(h("span", { class: "status-line", role: "status", text: this.text("retryingText") }));
      } else if (state === "failed") {
        const retry = h("button", { type: "button", text: this.text("retryLabel") });
        retry.addEventListener("click", () => {
          this.setPending(item, "queued");
          this.outbox.push(message);
          this.flush();
          this.input.focus();
        });
        item.append(h("span", { class: "status-line", role: "status" }, `${this.text("failedText")} `, retry));
      }
    }

    updateTyping() {
      // From send until the reply arrives: shown while anything is in flight.
      this.typing.hidden = this.inflight.size === 0;
      if (!this.typing.hidden) this.scrollToEnd();
    }

    updateNotice() {
      let text = "";
      if (navigator.onLine === false) text = this.text("offlineText");
      else if (this.down) text = this.text("reconnectingText");
      this.notice.hidden = !text;
      if (this.notice.textContent !== text) this.notice.textContent = text;
    }

    /** The counter under the message box, from COUNTER_FROM of the limit; over it, a clear message. */
    updateLimit() {
      const max = this.maxLength;
      const count = charCount(this.input.value.trim());
      const state = count > max ? "over" : count >= max * COUNTER_FROM ? "near" : "ok";
      const text = state === "ok" ? "" : fill(this.text(state === "over" ? "tooLongText" : "counterText"), { count, max });
      if (this.limit.textContent !== text) this.limit.textContent = text;
      this.limit.hidden = state === "ok";
      this.limit.classList.toggle("over", state === "over");
      const set = (name, value) => (value ? this.input.setAttribute(name, value) : this.input.removeAttribute(name));
      set("aria-describedby", state === "ok" ? null : "limit");
      set("aria-invalid", state === "over" ? "true" : null);
      set("aria-errormessage", state === "over" ? "limit" : null);
      if (state === "over" && this.limitState !== "over") this.announce(text);
      this.limitState = state;
      return state;
    }

    announce(text) {
      const line = h("p", { text });
      this.live.append(line);
      while (this.live.childElementCount > 3) this.live.firstElementChild.remove();
    }

    scrollToEnd() {
      this.revealTarget = null;
      if (this.panel.hidden) return;
      this.list.scrollTop = this.list.scrollHeight;
    }

    /** Show new bot messages starting at `item`: scrolled to the end when they fit in the log, else
     * with the top of `item` at the top of the log, so a long answer is read from its beginning. */
    reveal(item) {
      this.revealTarget = item; // a panel opened later starts there too
      if (this.panel.hidden) return;
      const list = this.list;
      const top = list.scrollTop + item.getBoundingClientRect().top - list.getBoundingClientRect().top - REVEAL_GAP_PX;
      list.scrollTop = Math.min(top, list.scrollHeight - list.clientHeight);
    }
  }

  customElements.define(TAG, SupportbotChat);

  // -- one-tag embedding: create <supportbot-chat> from the script tag's data-* attributes --------------
  function autoMount() {
    if (!SCRIPT || document.querySelector(TAG)) return; // an explicit element is already on the page
    const el = document.createElement(TAG);
    for (const [key, value] of Object.entries(SCRIPT.dataset)) el.setAttribute(`data-${camelToKebab(key)}`, value);
    document.body.append(el);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", autoMount);
  else autoMount();
})();

// The console's inbox (/console) and live conversation (/console/handoffs/{id}): polling JSON, no framework.
// Customer and knowledge text is only ever set with textContent (never innerHTML).
(function () {
  "use strict";

  const csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  async function api(method, url, body) {
    const init = { method, headers: { Accept: "application/json" }, credentials: "same-origin" };
    if (method !== "GET") {
      init.headers["X-CSRF-Token"] = csrf;
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body || {});
    }
    const response = await fetch(url, init);
    let data = null;
    if (response.status !== 204) {
      try { data = await response.json(); } catch (e) { data = null; }
    }
    return { ok: response.ok, status: response.status, data };
  }

  function errorText(result) {
    const error = result.data && result.data.error;
    return (error && error.message) || `The server answered ${result.status}; try again.`;
  }

  function sessionEnded(result) {
    const code = result.data && result.data.error && result.data.error.code;
    return result.status === 401 || (result.status === 403 && code === "csrf_rejected");
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function minutes(seconds) {
    const m = Math.floor(seconds / 60);
    return m < 1 ? "under a minute" : `${m} min`;
  }

  // Who the customer proved to be (mirrors templates/console/identity.html).
  const IDENTITY_LABELS = {
    shop_customer: "signed in on the shop's site as customer",
    email: "verified email",
    order: "verified order",
  };

  function identityLine(identity, anonymous) {
    const ids = Object.entries(identity || {});
    if (!ids.length) {
      const none = el("p", "muted", anonymous);
      none.dataset.identity = "";
      return none;
    }
    const who = el("p");
    who.dataset.identity = "";
    who.append(el("strong", null, "Proven customer: "), ids.map(([k, v]) => `${IDENTITY_LABELS[k] || k} ${v}`).join("; "));
    return who;
  }

  // -- the inbox ------------------------------------------------------------------------------------
  function inbox(root) {
    const api_url = root.dataset.api;
    const base = root.dataset.root || "";
    const list = root.querySelector("[data-waiting]");
    const taken = root.querySelector("[data-taken]");
    const count = root.querySelector("[data-inbox-count]");
    const announce = root.querySelector("[data-inbox-announce]");
    const failure = root.querySelector("[data-inbox-error]");
    const notifyButton = root.querySelector("[data-enable-notifications]");
    let known = new Set(Array.from(list.querySelectorAll("[data-ticket]")).map((li) => li.dataset.ticket));

    if ("Notification" in window && Notification.permission === "default" && notifyButton) {
      notifyButton.hidden = false;
      notifyButton.addEventListener("click", () => {
        Notification.requestPermission().then(() => { notifyButton.hidden = true; });
      });
    }

    function item(t) {
      const li = el("li", "card");
      li.dataset.ticket = String(t.id);
      const h = el("h3");
      const a = el("a", null, `Conversation ${t.id}`);
      a.href = `${base}/console/handoffs/${t.id}`;
      h.append(a, " ", el("span", "badge badge-warning", `waiting ${minutes(t.waiting_seconds)}`));
      if (t.sentiment) {
        h.append(" ", el("span", `badge ${t.sentiment.label === "negative" ? "badge-danger" : "badge-muted"}`, t.sentiment.label));
      }
      li.append(h);
      const asked = el("p");
      asked.append(el("strong", null, "Asked: "), t.reason);
      li.append(asked);
      li.append(identityLine(t.identity, "Not verified: the customer has not proven who they are"));
      if ((t.tried || []).length) {
        const tried = el("p");
        const said = t.tried.map((turn) => {
          let s = turn.intent || "?";
          if (turn.actions.length) s += ` → ${turn.actions.join(", ")}`;
          if (turn.entries.length) s += ` (${turn.entries.join(", ")})`;
          return s;
        });
        tried.append(el("strong", null, "The bot tried: "), said.join("; "));
        li.append(tried);
      }
      const details = el("details");
      details.append(el("summary", null, `Transcript (${t.transcript.length} messages)`));
      const lines = el("div", "transcript");
      for (const line of t.transcript) {
        const p = el("p", `turn ${line.role}`);
        p.append(el("span", "meta", line.agent || line.role), line.text);
        lines.append(p);
      }
      details.append(lines);
      li.append(details);
      return li;
    }

    function render(data) {
      const open = new Set(Array.from(list.querySelectorAll("details[open]")).map((d) => d.closest("[data-ticket]").dataset.ticket));
      list.replaceChildren(...(data.waiting.length ? data.waiting.map(item) : [el("li", "empty", "Nobody is waiting. New conversations appear here by themselves.")]));
      for (const li of list.querySelectorAll("[data-ticket]")) {
        if (open.has(li.dataset.ticket)) li.querySelector("details").open = true;
      }
      taken.replaceChildren(...(data.taken.length ? data.taken.map((t) => {
        const li = el("li");
        const a = el("a", null, `Conversation ${t.id}`);
        a.href = `${base}/console/handoffs/${t.id}`;
        li.append(a, ` — ${t.agent ? t.agent.name : ""}`);
        return li;
      }) : [el("li", "empty", "None.")]));
      count.textContent = `${data.count} waiting`;
      document.title = `${data.count ? `(${data.count}) ` : ""}Inbox · supportbot`;
      const fresh = data.waiting.filter((t) => !known.has(String(t.id)));
      if (fresh.length) {
        const what = fresh.map((t) => `conversation ${t.id}: ${t.reason}`).join("; ");
        announce.textContent = `New conversation waiting — ${what}`;
        if ("Notification" in window && Notification.permission === "granted") {
          try { new Notification("A customer is waiting", { body: fresh[0].reason }); } catch (e) { /* not allowed here */ }
        }
      }
      known = new Set(data.waiting.map((t) => String(t.id)));
    }

    async function poll() {
      try {
        const result = await api("GET", api_url);
        if (result.ok) {
          failure.hidden = true;
          render(result.data);
        } else if (result.status === 401) {
          window.location.reload();
          return;
        } else {
          failure.textContent = errorText(result);
          failure.hidden = false;
        }
      } catch (e) {
        failure.textContent = "The console cannot reach the server; retrying…";
        failure.hidden = false;
      }
      window.setTimeout(poll, 3000);
    }
    window.setTimeout(poll, 3000);
  }

  // -- one live conversation --------------------------------------------------------------------------
  function handoff(root) {
    const id = root.dataset.handoff;
    const base = `${root.dataset.root || ""}/console/api/handoffs/${id}`;
    const pollMs = Math.max(200, Number(root.dataset.pollMs) || 1000);
    const me = Number(root.dataset.agentId);
    const log = root.querySelector("[data-log]");
    const status = root.querySelector("[data-status]");
    const holder = root.querySelector("[data-holder]");
    const takeButton = root.querySelector("[data-take]");
    const backButton = root.querySelector("[data-hand-back]");
    const error = root.querySelector("[data-error]");
    const typing = root.querySelector("[data-customer-typing]");
    const form = root.querySelector("[data-reply]");
    const text = form.querySelector("textarea");
    let cursor = 0;
    let ticket = null;
    let lastTyping = 0;

    // The unsent reply survives a reload (a poll answered 401 when the session ended: sign in, come back):
    // kept in this tab's sessionStorage per conversation, restored here, dropped once it is sent.
    const draftKey = `supportbot.console.draft.${id}`;
    function keepDraft() {
      try {
        if (text.value) window.sessionStorage.setItem(draftKey, text.value);
        else window.sessionStorage.removeItem(draftKey);
      } catch (e) { /* storage refused (private mode, quota): the text stays in the box */ }
    }
    try {
      const draft = window.sessionStorage.getItem(draftKey);
      if (draft && !text.value) text.value = draft;
    } catch (e) { /* no storage: nothing to restore */ }

    function showError(message) {
      error.textContent = message;
      error.hidden = !message;
    }

    function mine() {
      return ticket && ticket.status === "taken" && ticket.agent && ticket.agent.id === me;
    }

    function show(t) {
      ticket = t;
      status.textContent = t.status.replace("_", " ");
      holder.textContent = t.agent ? `answered by ${t.agent.name}` : "";
      takeButton.hidden = t.status !== "waiting";
      backButton.hidden = t.status === "handed_back";
      const canWrite = mine();
      text.disabled = !canWrite;
      form.querySelector("button").disabled = !canWrite;
    }

    function append(events) {
      for (const e of events) {
        const p = el("p", `turn ${e.role}`);
        const who = e.role === "agent" ? e.agent : e.role === "customer" ? "Customer" : "Bot";
        p.append(el("span", "meta", who), e.text); // the meta line is a block: no space before the text
        log.append(p);
      }
      if (events.length) log.scrollTop = log.scrollHeight;
    }

    async function poll() {
      try {
        const result = await api("GET", `${base}/events?after=${cursor}`);
        if (result.ok) {
          append(result.data.events);
          cursor = result.data.cursor;
          show(result.data.ticket);
          typing.textContent = result.data.customer_typing ? "The customer is typing…" : "";
        } else if (result.status === 401) {
          keepDraft(); // the reload goes to the sign-in page and back here, where the draft is restored
          window.location.reload();
          return;
        }
      } catch (e) { /* the next poll retries */ }
      window.setTimeout(poll, pollMs);
    }

    async function act(url, body) {
      showError("");
      const result = await api("POST", url, body);
      if (!result.ok) {
        showError(errorText(result));
        if (result.data && result.data.ticket) show(result.data.ticket);
      } else if (result.data && result.data.ticket) {
        show(result.data.ticket);
      }
      return result;
    }

    takeButton.addEventListener("click", async () => {
      const result = await act(`${base}/take`);
      if (result.ok) text.focus();
    });
    backButton.addEventListener("click", () => act(`${base}/hand-back`));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const value = text.value.trim();
      if (!value) return;
      const result = await act(`${base}/messages`, { text: value });
      if (result.ok) {
        text.value = "";
        keepDraft();
      } else if (sessionEnded(result)) {
        keepDraft(); // signed out, or signed in again elsewhere (a new CSRF token): reload, keep the reply
        window.location.reload();
      }
    });
    text.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
    text.addEventListener("input", () => {
      keepDraft();
      const now = Date.now();
      if (!mine() || now - lastTyping < 2000 || !text.value) return;
      lastTyping = now;
      api("POST", `${base}/typing`).catch(() => {});
    });
    poll();
  }

  const inboxRoot = document.querySelector("[data-inbox]");
  if (inboxRoot) inbox(inboxRoot);
  const handoffRoot = document.querySelector("[data-handoff]");
  if (handoffRoot) handoff(handoffRoot);
})();

// hookwire inspector: small enhancements over pages that work without
// JavaScript. No inline script anywhere (the CSP forbids it).
"use strict";

function copied(button, text) {
  if (!navigator.clipboard) return Promise.resolve();
  return navigator.clipboard.writeText(text).then(() => {
    const label = button.dataset.label || button.textContent;
    button.dataset.label = label;
    button.textContent = "Copied";
    setTimeout(() => { button.textContent = label; }, 1200);
  });
}

document.addEventListener("click", (event) => {
  const copy = event.target.closest("button[data-copy], button[data-copy-text], button[data-copy-url]");
  if (copy) {
    if (copy.dataset.copyUrl) {
      // The raw body, as the server stored it (not the coloured view).
      fetch(copy.dataset.copyUrl, { credentials: "same-origin" })
        .then((res) => (res.ok ? res.text() : Promise.reject(new Error(String(res.status)))))
        .then((text) => copied(copy, text))
        .catch(() => { copy.textContent = "Copy failed"; });
      return;
    }
    const source = copy.dataset.copy ? document.querySelector(copy.dataset.copy) : null;
    const text = source ? source.value || source.textContent : copy.dataset.copyText;
    if (text !== undefined) copied(copy, text);
    return;
  }
  const confirmed = event.target.closest("button[data-confirm]");
  if (confirmed && !window.confirm(confirmed.dataset.confirm)) {
    event.preventDefault();
  }
});

// Show times in the reader's own time zone; the server renders UTC.
function localTimes(root) {
  for (const node of root.querySelectorAll("time[datetime]")) {
    const when = new Date(node.getAttribute("datetime"));
    if (!Number.isNaN(when.getTime())) {
      node.title = node.getAttribute("datetime");
      node.textContent = when.toLocaleString();
    }
  }
}

// Live list: new requests arrive over Server-Sent Events and are added at
// the top. Captured data is only ever set as text, never as HTML.
const inspector = document.querySelector(".inspector[data-bin]");

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function humanSize(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

// The status the sender got, as a pill: 2xx/4xx/5xx coloured, a dash
// when it got no answer.
function answerPill(response) {
  const st = response.status;
  return el("span", `answer a-${st ? `${Math.floor(st / 100)}xx` : "none"}`, st ? String(st) : "\u2014");
}

function listItem(bin, s) {
  const li = el("li");
  li.dataset.id = String(s.id);
  const a = el("a");
  a.href = `/bins/${encodeURIComponent(bin)}?r=${s.id}`;
  a.append(el("span", `method m-${s.method}`, s.method), el("span", "target", s.target));
  const meta = el("span", "meta");
  const time = el("time", "", new Date(s.time).toLocaleString());
  time.setAttribute("datetime", s.time);
  meta.append(time, ` · ${humanSize(s.size)} · #${s.id} `);
  if (s.signature) {
    const ok = s.signature.verified;
    meta.append(el("span", `sig ${ok ? "ok" : "bad"}`, `${ok ? "\u2713" : "\u2717"} ${s.signature.scheme}`));
  }
  if (s.schema) {
    const ok = s.schema.valid;
    const mark = el("span", `sig schema ${ok ? "ok" : "bad"}`, `${ok ? "\u2713" : "\u2717"} schema`);
    mark.title = ok ? "the payload fits the bin's schema"
      : s.schema.errors.map((e) => `${e.pointer}: ${e.message}`).join("; ");
    meta.append(mark);
  }
  if (s.rule) {
    const mark = el("span", "rule", `rule: ${s.rule}`);
    mark.title = `answered by the response rule ${s.rule}`;
    meta.append(" ", mark);
  }
  if (s.response) meta.append(" ", answerPill(s.response));
  a.append(meta);
  li.append(a);
  return li;
}


// Everything a detail section needs once it is in the page (the first one,
// and each one swapped in).
function enhance(root) {
  for (const button of root.querySelectorAll("button[data-copy-text], button[data-copy-url]")) {
    button.hidden = false;
  }
  localTimes(root);
  colourJson(root);
  const curl = root.querySelector("#curl-copy");
  if (curl) {
    curl.hidden = false;
    const to = curl.querySelector("#curl-to");
    try { to.value = localStorage.getItem("hookwire.curlTo") || ""; } catch (_) { /* storage off */ }
  }
}

// "Copy as curl": the server builds the command (export?format=curl&to=URL).
document.addEventListener("submit", (event) => {
  const form = event.target.closest("#curl-copy");
  if (!form) return;
  event.preventDefault();
  const to = form.querySelector("#curl-to").value.trim();
  const out = form.querySelector("#curl-result");
  const button = form.querySelector("button");
  try { localStorage.setItem("hookwire.curlTo", to); } catch (_) { /* storage off */ }
  const url = form.dataset.curl + (to ? `&to=${encodeURIComponent(to)}` : "");
  fetch(url, { credentials: "same-origin" })
    .then(async (res) => {
      const text = await res.text();
      if (!res.ok) {
        let message = text;
        try { message = JSON.parse(text).error || text; } catch (_) { /* plain text */ }
        throw new Error(message);
      }
      out.textContent = "";
      return copied(button, text);
    })
    .catch((e) => { out.textContent = e.message; });
});

const pane = document.getElementById("pane");
const followBox = document.getElementById("follow");
const shortcuts = document.getElementById("shortcuts");

function items() {
  return [...document.querySelectorAll("ol.requests li")];
}

function currentDetail() {
  return document.getElementById("detail");
}

function markSelected(id) {
  let chosen = null;
  for (const li of items()) {
    const on = li.dataset.id === String(id);
    li.classList.toggle("selected", on);
    const a = li.querySelector("a");
    if (on) {
      chosen = li;
      a.setAttribute("aria-current", "true");
    } else {
      a.removeAttribute("aria-current");
    }
  }
  return chosen;
}

function setFollow(on) {
  if (!inspector) return;
  inspector.dataset.follow = on ? "1" : "";
  if (followBox) followBox.checked = on;
}

// The settings forms send the selected request along (`r`), so that the
// page they come back to shows it: moved in place, it is the new one.
function keepSelection(id) {
  for (const form of document.querySelectorAll("#settings form[method=post]")) {
    // (`getAttribute`: a field named "action" would shadow `form.action`.)
    if ((form.getAttribute("action") || "").endsWith("/rules/delete")) continue;
    let input = form.querySelector("input[name=r]");
    if (!input) {
      input = el("input");
      input.type = "hidden";
      input.name = "r";
      form.prepend(input);
    }
    input.value = String(id);
  }
}

// Moves: fetch the server-rendered detail of one request and swap it in.
// Only the latest move wins when several are in flight.
let moveSeq = 0;
async function show(id, how) {
  const bin = inspector.dataset.bin;
  const seq = ++moveSeq;
  const li = markSelected(id);
  if (li && how.scrollList !== false) li.scrollIntoView({ block: "nearest" });
  if (how.focus && li) li.querySelector("a").focus({ preventScroll: true });
  if (how.push) {
    const url = new URL(window.location.href);
    url.searchParams.set("r", String(id));
    url.hash = "";
    history.pushState({ r: id }, "", url.pathname + url.search);
  }
  let html;
  try {
    const res = await fetch(`/bins/${encodeURIComponent(bin)}/requests/${id}/detail`, {
      credentials: "same-origin",
    });
    if (!res.ok) throw new Error(String(res.status));
    html = await res.text();
  } catch (_) {
    if (seq === moveSeq) window.location.assign(`/bins/${encodeURIComponent(bin)}?r=${id}`);
    return;
  }
  if (seq !== moveSeq) return;
  const doc = new DOMParser().parseFromString(html, "text/html");
  const fresh = doc.getElementById("detail");
  if (!fresh) return;
  const old = currentDetail();
  const next = document.adoptNode(fresh);
  // The compare form's default: the newest listed request not shown.
  const b = next.querySelector("input[name=b]");
  if (b && !b.value) {
    const other = items().find((x) => x.dataset.id !== String(id));
    if (other) b.value = other.dataset.id;
  }
  old.replaceWith(next);
  enhance(next);
  keepSelection(id);
  if (pane && how.scrollTop !== false) {
    if (pane.scrollHeight > pane.clientHeight) pane.scrollTop = 0;
    else next.scrollIntoView({ block: "nearest" });
  }
}

if (inspector) {
  // A settings form that came back refused: in view, its field focused.
  const invalid = document.querySelector("#settings [aria-invalid=true]");
  if (invalid) {
    invalid.scrollIntoView({ block: "center" });
    invalid.focus({ preventScroll: true });
  }
  const bin = inspector.dataset.bin;
  const toolbar = document.getElementById("toolbar");
  if (toolbar) toolbar.hidden = false;
  setFollow(inspector.dataset.follow === "1");
  const shown = currentDetail() && currentDetail().dataset.id;
  history.replaceState({ r: shown ? Number(shown) : null }, "");

  // A click on a listed request (plain, left button) swaps the detail.
  document.getElementById("requests").addEventListener("click", (e) => {
    if (e.button !== 0 || e.ctrlKey || e.metaKey || e.shiftKey || e.altKey) return;
    const li = e.target.closest("li[data-id]");
    if (!li) return;
    e.preventDefault();
    setFollow(false);
    show(li.dataset.id, { push: true, scrollList: false });
  });

  followBox?.addEventListener("change", () => {
    setFollow(followBox.checked);
    if (followBox.checked) {
      const newest = items()[0];
      if (newest && newest.dataset.id !== (currentDetail().dataset.id || "")) {
        show(newest.dataset.id, { push: true });
      }
    }
  });

  // Back and forward between moves: swap in place, no new history entry.
  window.addEventListener("popstate", (e) => {
    let id = e.state && e.state.r;
    if (id === undefined || id === null) {
      id = new URL(window.location.href).searchParams.get("r") || (items()[0] && items()[0].dataset.id);
    }
    if (!id) return;
    setFollow(false);
    show(id, { push: false });
  });

  // Live list: new requests arrive over Server-Sent Events and are added
  // at the top. Captured data is only ever set as text, never as HTML. One
  // stream per tab: closed when the page is hidden or left (so pages kept
  // by the back/forward cache hold no connection), reopened when shown.
  if (inspector.dataset.live === "1" && window.EventSource) {
    const list = document.getElementById("requests");
    const count = document.getElementById("count");
    const fresh = document.getElementById("new-count");
    let arrived = 0;
    let events = null;
    const arrive = (s) => {
      if (list.querySelector(`li[data-id="${s.id}"]`)) return;
      document.getElementById("empty")?.remove();
      list.prepend(listItem(bin, s));
      count.textContent = String(Number(count.textContent) + 1);
      arrived += 1;
      fresh.textContent = ` · ${arrived} new`;
      fresh.hidden = false;
      document.body.dataset.lastLive = String(s.id);
      if (inspector.dataset.follow === "1") show(s.id, { push: false, scrollTop: false });
    };
    // An answer known only after the request was listed (a passthrough
    // app's, or a sender that gave up): its pill, and the detail if shown.
    const answered = (a) => {
      const meta = list.querySelector(`li[data-id="${a.id}"] .meta`);
      if (meta) {
        meta.querySelector(".answer")?.remove();
        meta.append(answerPill(a.response));
      }
      if (currentDetail().dataset.id === String(a.id)) {
        show(a.id, { push: false, scrollList: false, scrollTop: false });
      }
    };
    const open = () => {
      if (events) return;
      events = new EventSource(`/bins/${encodeURIComponent(bin)}/events`);
      events.addEventListener("request", (e) => arrive(JSON.parse(e.data)));
      events.addEventListener("answered", (e) => answered(JSON.parse(e.data)));
      events.addEventListener("reload", () => window.location.reload());
    };
    const close = () => {
      if (!events) return;
      events.close();
      events = null;
    };
    // Requests that arrived while the stream was closed: the list as the
    // server renders it now replaces ours (the detail stays as it is).
    const catchUp = async () => {
      const shown = currentDetail().dataset.id;
      try {
        const res = await fetch(`/bins/${encodeURIComponent(bin)}`, { credentials: "same-origin" });
        if (!res.ok) return;
        const doc = new DOMParser().parseFromString(await res.text(), "text/html");
        const newList = doc.getElementById("requests");
        const newCount = doc.getElementById("count");
        if (!newList || !newCount) return;
        list.replaceChildren(...[...newList.children].map((n) => document.adoptNode(n)));
        localTimes(list);
        count.textContent = newCount.textContent;
        if (list.children.length > 0) document.getElementById("empty")?.remove();
        if (inspector.dataset.follow === "1" && list.firstElementChild
            && list.firstElementChild.dataset.id !== shown) {
          show(list.firstElementChild.dataset.id, { push: false, scrollTop: false });
        } else {
          markSelected(shown);
        }
      } catch (_) { /* offline: the stream retries */ }
    };
    let away = false;
    window.addEventListener("pagehide", () => { close(); away = true; });
    window.addEventListener("pageshow", () => {
      open();
      if (away) catchUp();
      away = false;
    });
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "hidden") {
        close();
        away = true;
      } else if (away) {
        away = false;
        open();
        catchUp();
      }
    });
    if (document.visibilityState !== "hidden") open();
    else away = true;
  }
}

// Keyboard: j / ArrowDown for the next (older) request, k / ArrowUp for the
// previous (newer) one, g for the newest, f to follow, / to search, ? for
// the list of shortcuts.
document.addEventListener("keydown", (e) => {
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  if (e.target.closest && e.target.closest("input, textarea, select, dialog")) return;
  if (e.key === "?") {
    if (shortcuts && shortcuts.showModal) {
      e.preventDefault();
      if (!shortcuts.open) shortcuts.showModal();
    }
    return;
  }
  if (e.key === "/") {
    const search = document.querySelector("input[name=q]");
    if (search) {
      e.preventDefault();
      search.focus();
    }
    return;
  }
  if (!inspector) return;
  if (e.key === "f" && followBox) {
    e.preventDefault();
    followBox.click();
    return;
  }
  const list = items();
  const step = { j: 1, ArrowDown: 1, k: -1, ArrowUp: -1 }[e.key];
  if (e.key === "g" && list.length > 0) {
    e.preventDefault();
    setFollow(false);
    show(list[0].dataset.id, { push: true, focus: true });
    return;
  }
  if (!step || list.length === 0) return;
  const at = list.findIndex((li) => li.classList.contains("selected"));
  const next = list[Math.min(Math.max(at + step, 0), list.length - 1)];
  e.preventDefault();
  if (next && next !== list[at]) {
    setFollow(false);
    show(next.dataset.id, { push: true, focus: true });
  }
});

document.getElementById("show-shortcuts")?.addEventListener("click", () => shortcuts?.showModal());

// Import a HAR or JSON export into this bin.
const importFile = document.getElementById("import-file");
if (importFile) {
  importFile.addEventListener("change", async () => {
    const file = importFile.files[0];
    const out = document.getElementById("import-result");
    if (!file) return;
    const res = await fetch(`/api/bins/${encodeURIComponent(importFile.dataset.bin)}/import`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: await file.text(),
    });
    const answer = await res.json().catch(() => ({}));
    if (res.ok) {
      out.textContent = `Imported ${answer.imported} requests.`;
      window.location.reload();
    } else {
      out.textContent = answer.error || `Import failed (${res.status}).`;
    }
  });
}

// JSON bodies: syntax colours and folding, built from the server's pretty
// text line by line (never re-parsed, so numbers stay exactly as sent; and
// only textContent is set, never HTML).
const JSON_TOKEN = /("(?:[^"\\]|\\.)*")(\s*:)?|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|\b(true|false|null)\b|([{}[\],])/g;

function colourLine(line, into) {
  let last = 0;
  for (const m of line.matchAll(JSON_TOKEN)) {
    if (m.index > last) into.append(line.slice(last, m.index));
    const [text, str, colon, num, lit] = m;
    if (str) {
      into.append(el("span", colon ? "j-key" : "j-str", str));
      if (colon) into.append(colon);
    } else if (num) {
      into.append(el("span", "j-num", num));
    } else if (lit) {
      into.append(el("span", "j-lit", lit));
    } else {
      into.append(text);
    }
    last = m.index + text.length;
  }
  if (last < line.length) into.append(line.slice(last));
}

function colourJson(root) {
for (const pre of root.querySelectorAll("pre.body.json")) {
  const lines = pre.textContent.split("\n");
  const root = document.createDocumentFragment();
  const stack = [root];
  for (const line of lines) {
    const trimmed = line.trim();
    const closes = trimmed.startsWith("}") || trimmed.startsWith("]");
    if (closes && stack.length > 1) stack.pop();
    const row = el("span", "j-line");
    colourLine(line, row);
    row.append("\n");
    const opens = trimmed.endsWith("{") || trimmed.endsWith("[");
    if (opens) {
      const toggle = el("button", "j-fold", "\u25be");
      toggle.type = "button";
      toggle.title = "fold";
      row.prepend(toggle);
      stack[stack.length - 1].append(row);
      const inner = el("span", "j-block");
      stack[stack.length - 1].append(inner);
      toggle.addEventListener("click", () => {
        inner.hidden = !inner.hidden;
        toggle.textContent = inner.hidden ? "\u25b8" : "\u25be";
      });
      stack.push(inner);
    } else {
      stack[stack.length - 1].append(row);
    }
  }
  pre.replaceChildren(root);
}
}

enhance(document);

// hookwire inspector: small enhancements over pages that work without
// JavaScript. No inline script anywhere (the CSP forbids it).
"use strict";

// Copy buttons only make sense with JavaScript: show them.
for (const button of document.querySelectorAll("button[data-copy-text]")) {
  button.hidden = false;
}

document.addEventListener("click", (event) => {
  const copy = event.target.closest("button[data-copy], button[data-copy-text]");
  if (copy) {
    const source = copy.dataset.copy ? document.querySelector(copy.dataset.copy) : null;
    const text = source ? source.value || source.textContent : copy.dataset.copyText;
    if (text !== undefined && navigator.clipboard) {
      navigator.clipboard.writeText(text).then(() => {
        const label = copy.textContent;
        copy.textContent = "Copied";
        setTimeout(() => { copy.textContent = label; }, 1200);
      });
    }
    return;
  }
  const confirmed = event.target.closest("button[data-confirm]");
  if (confirmed && !window.confirm(confirmed.dataset.confirm)) {
    event.preventDefault();
  }
});

// Show times in the reader's own time zone; the server renders UTC.
for (const el of document.querySelectorAll("time[datetime]")) {
  const when = new Date(el.getAttribute("datetime"));
  if (!Number.isNaN(when.getTime())) {
    el.title = el.getAttribute("datetime");
    el.textContent = when.toLocaleString();
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
  if (s.rule) {
    const mark = el("span", "rule", `rule: ${s.rule}`);
    mark.title = `answered by the response rule ${s.rule}`;
    meta.append(" ", mark);
  }
  if (s.response) {
    const st = s.response.status;
    const pill = el("span", `answer a-${st ? `${Math.floor(st / 100)}xx` : "none"}`, st ? String(st) : "\u2014");
    meta.append(" ", pill);
  }
  a.append(meta);
  li.append(a);
  return li;
}

if (inspector && inspector.dataset.live === "1" && window.EventSource) {
  const bin = inspector.dataset.bin;
  const list = document.getElementById("requests");
  const count = document.getElementById("count");
  const fresh = document.getElementById("new-count");
  let arrived = 0;
  const events = new EventSource(`/bins/${encodeURIComponent(bin)}/events`);
  events.addEventListener("request", (e) => {
    const s = JSON.parse(e.data);
    if (list.querySelector(`li[data-id="${s.id}"]`)) return;
    document.getElementById("empty")?.remove();
    list.prepend(listItem(bin, s));
    count.textContent = String(Number(count.textContent) + 1);
    arrived += 1;
    fresh.textContent = ` · ${arrived} new`;
    fresh.hidden = false;
    document.body.dataset.lastLive = String(s.id);
  });
  events.addEventListener("reload", () => window.location.reload());
}

// Keyboard: j / ArrowDown for the next (older) request, k / ArrowUp for the
// previous (newer) one, / to search.
document.addEventListener("keydown", (e) => {
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  if (e.target.closest && e.target.closest("input, textarea, select")) return;
  const items = [...document.querySelectorAll("ol.requests li")];
  if (e.key === "/") {
    const search = document.querySelector("input[name=q]");
    if (search) {
      e.preventDefault();
      search.focus();
    }
    return;
  }
  const step = { j: 1, ArrowDown: 1, k: -1, ArrowUp: -1 }[e.key];
  if (!step || items.length === 0) return;
  const at = items.findIndex((li) => li.classList.contains("selected"));
  const next = items[Math.min(Math.max(at + step, 0), items.length - 1)];
  const link = next && next.querySelector("a");
  if (link && next !== items[at]) {
    e.preventDefault();
    window.location.href = link.href;
  }
});

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

for (const pre of document.querySelectorAll("pre.body.json")) {
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

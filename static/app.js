// hookwire inspector: small enhancements over pages that work without
// JavaScript. No inline script anywhere (the CSP forbids it).
"use strict";

document.addEventListener("click", (event) => {
  const copy = event.target.closest("button[data-copy]");
  if (copy) {
    const source = document.querySelector(copy.dataset.copy);
    if (source && navigator.clipboard) {
      navigator.clipboard.writeText(source.value || source.textContent).then(() => {
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

// The timeline's "older" in place (page.html): see the comment there.
(() => {
  "use strict";
  const texts = document.currentScript.dataset;
  const busy = new WeakSet();
  const say = (paragraph, text) => {
    let note = paragraph.parentElement.querySelector(".timeline__error");
    if (!note) {
      note = document.createElement("p");
      note.className = "timeline__error";
      note.setAttribute("role", "alert");
      paragraph.after(note);
    }
    note.textContent = text;
  };
  document.addEventListener("click", async (event) => {
    const link = event.target.closest(".block--timeline > p.more > a[href]");
    const list = link && link.closest(".block--timeline").querySelector("ol.timeline");
    if (!list || event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey
        || event.altKey) return;  // a new tab or window: the page, as without the script
    event.preventDefault();
    if (busy.has(link)) return;  // a second click while the first loads
    busy.add(link);
    const paragraph = link.parentElement;
    const url = new URL(link.href);
    url.searchParams.set("part", "entries");
    let status = 0, html = "";
    list.setAttribute("aria-busy", "true");
    try {
      const response = await fetch(url, {headers: {Accept: "text/html"}});
      status = response.status;
      html = await response.text();
    } catch {
      // the network failed: said below
    }
    list.removeAttribute("aria-busy");
    busy.delete(link);
    if (status !== 200) {
      say(paragraph, status === 401 ? texts.expired : texts.olderFailed);
      if (status === 401 && window.parent !== window) {
        window.parent.postMessage({type: "connector:stale"}, location.origin);
      }
      return;
    }
    const part = new DOMParser().parseFromString(html, "text/html");  // inert: no script runs
    const entries = [...part.body.querySelectorAll("li.timeline__entry")];
    const next = part.body.querySelector("p.more > a[href]");
    paragraph.parentElement.querySelector(".timeline__error")?.remove();
    list.append(...entries);
    if (next) link.setAttribute("href", next.getAttribute("href"));
    else paragraph.remove();
    if (entries.length) {
      entries[0].tabIndex = -1;
      entries[0].focus();
    }
  });
})();

// On-demand details and renewed links (page.html): see the comment there.
(() => {
  "use strict";
  const texts = document.currentScript.dataset;
  const framed = window.parent !== window;
  const line = (text, name) => {
    const p = document.createElement("p");
    p.className = name;
    p.textContent = text;
    return p;
  };
  const shown = (value) => value === null || value === undefined ? "—"
    : typeof value === "object" ? JSON.stringify(value) : String(value);
  const fill = (body, data) => {
    const list = document.createElement("dl");
    list.className = "detail__fields";
    for (const [label, value] of Object.entries(data.fields)) {
      if (value === null || value === undefined || value === "") continue;  // nothing known
      const term = document.createElement("dt");
      const desc = document.createElement("dd");
      term.textContent = label;
      desc.textContent = shown(value);
      list.append(term, desc);
    }
    // read_at: the server's "14:05" in the brand's time zone, whatever the browser's zone
    const at = new Date(data.fetched_at);
    const time = data.read_at ? String(data.read_at) : isNaN(at) ? null
      : at.toLocaleTimeString(document.documentElement.lang, {hour: "2-digit", minute: "2-digit"});
    // nothing to show (a parcel not yet shipped has no tracking): said in words, not an empty box
    const shownList = list.children.length ? list : line(texts.empty, "detail__note");
    body.replaceChildren(shownList,
                         ...(time ? [line(`${texts.fetched} ${time}`, "detail__note")] : []));
  };
  document.addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-detail-url]");
    const panel = button && document.getElementById(button.getAttribute("aria-controls"));
    if (!panel) return;
    const open = button.getAttribute("aria-expanded") !== "true";
    button.setAttribute("aria-expanded", String(open));
    panel.hidden = !open;
    if (!open) return;
    const body = panel.querySelector("[data-detail-body]") || panel;
    body.replaceChildren(line(texts.loading, "detail__note"));
    let status = 0, data = null;
    try {
      const url = button.dataset.detailUrl + encodeURIComponent(button.dataset.detailKey);
      const response = await fetch(url, {headers: {Accept: "application/json"}});
      status = response.status;
      data = await response.json();
    } catch {
      // network failure or an answer that is not JSON: the generic message below
    }
    if (status === 200 && data && data.fields && typeof data.fields === "object") {
      fill(body, data);
    } else if (status === 401) {
      body.replaceChildren(line(texts.expired, "detail__error"));
      if (framed) window.parent.postMessage({type: "connector:stale"}, location.origin);
    } else {
      const error = data && typeof data.error === "string" ? data.error : texts.failed;
      body.replaceChildren(line(error, "detail__error"));
    }
  });
  // {type: "connector:link", from, to}: the same record sealed anew, from the framing page
  window.addEventListener("message", (event) => {
    const link = event.data;
    if (event.source !== window.parent || event.origin !== location.origin || !link
        || link.type !== "connector:link" || typeof link.from !== "string"
        || typeof link.to !== "string" || !link.from || !link.to) return;
    const moved = (text) => text.split(encodeURIComponent(link.from))  // in URLs, and as is
      .map((part) => part.split(link.from).join(link.to)).join(encodeURIComponent(link.to));
    for (const input of document.querySelectorAll("input[name='t']")) {
      input.value = moved(input.value);
    }
    for (const [selector, name] of [["[data-detail-url]", "data-detail-url"],
                                    ["a[href]", "href"], ["form[action]", "action"]]) {
      for (const node of document.querySelectorAll(selector)) {
        node.setAttribute(name, moved(node.getAttribute(name)));
      }
    }
    history.replaceState(history.state, "", moved(location.href));
  });
  document.documentElement.dataset.renewable = "";
})();

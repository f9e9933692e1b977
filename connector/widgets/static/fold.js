// Folding blocks (page.html): see the comment there.
(() => {
  "use strict";
  const KEY = "connector.folded";
  let saved = {};
  try {
    saved = JSON.parse(localStorage.getItem(KEY) || "{}") || {};
  } catch {
    saved = {};  // storage refused (a sandboxed frame): folding still works, unremembered
  }
  const remember = () => {
    try { localStorage.setItem(KEY, JSON.stringify(saved)); } catch { /* not remembered */ }
  };
  const fold = (block, folded) => {
    block.classList.toggle("block--folded", folded);
    block.querySelector(".block__toggle").setAttribute("aria-expanded", String(!folded));
  };
  for (const block of document.querySelectorAll("main .block[id]")) {
    const title = block.querySelector(":scope > .block__title, :scope > .block__head > .block__title");
    if (!title || getComputedStyle(title).position === "absolute") continue;  // no visible title
    const button = document.createElement("button");
    button.type = "button";
    button.className = "block__toggle";
    button.append(...title.childNodes);
    title.append(button);
    fold(block, block.id in saved ? saved[block.id] === true : block.hasAttribute("data-fold"));
    button.addEventListener("click", () => {
      const folded = !block.classList.contains("block--folded");
      fold(block, folded);
      saved[block.id] = folded;
      remember();
    });
  }
  document.addEventListener("click", (event) => {
    const link = event.target.closest("a[href^='#']");
    const target = link && document.getElementById(link.getAttribute("href").slice(1));
    const block = target && target.closest(".block--folded");
    if (block) fold(block, false);
  });
})();

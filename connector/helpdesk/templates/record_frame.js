// The record's frame and its sealed link, kept valid for as long as the agent keeps the ticket
// open (inlined in the nonce'd script of Zendesk's and Chatwoot's pages: see embed.py).
//
// The link lives `lifetime_s` seconds. Once 80 % of that has passed (on a timer), or half of it
// when the agent comes back (the tab shown again, Zendesk's `app.activated`), or at once when
// the record says a detail was refused as out of date, the page's `renew(token)` asks the
// server to seal the token the frame shows now (the record the agent chose may not be the
// requester's) again. The record then takes the new token in place (a message: links and
// forms change, nothing reloads, a note being typed survives); a page that cannot (a search,
// a message) is reloaded with it, once the agent is not typing there.
//
// renew(token) resolves {url, renewed, lifetime_s}: `renewed` false when the token was no
// longer valid and `url` is a new link to the requester's record; or null once the page has
// said why it stops (the helpdesk's authority is gone); it rejects on a passing failure,
// tried again a little later.
function RecordFrame(frame, renew) {
  "use strict";
  var link = null;      // the newest link: {token, at (ms), ms (lifetime)}
  var opened = 0;       // bumped by each new record: answers about an older one are dropped
  var asking = false;
  var timer = 0;
  var waiting = null;   // a URL to reload the frame with once the agent is not typing
  var scroll = null;    // where the agent was in the record, restored after such a reload

  function tokenOf(url) {
    try { return new URL(url, location.href).searchParams.get("t"); } catch (error) { return null; }
  }

  // the record's window while it shows a page of ours (never a browser error page)
  function inner() {
    try {
      var win = frame.contentWindow;
      return win && win.location.origin === location.origin ? win : null;
    } catch (error) {
      return null;
    }
  }

  function shownToken() {
    var win = inner();
    return win ? tokenOf(win.location.href) : null;
  }

  function typing(win) {
    var doc = win.document;
    var fields = doc.querySelectorAll("textarea, input:not([type=hidden]), select");
    for (var i = 0; i < fields.length; i++) {
      if (fields[i].value !== fields[i].defaultValue) { return true; }
    }
    var active = doc.hasFocus() ? doc.activeElement : null;
    return Boolean(active && /^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName));
  }

  function later(ms) {
    clearTimeout(timer);
    timer = setTimeout(tick, Math.max(ms, 100));
  }

  function retryMs() { return link ? Math.min(30000, Math.max(1000, link.ms / 10)) : 30000; }

  // loads a URL in the frame without adding to the browser's history (Back stays Zendesk's)
  function load(url) {
    var win = inner();
    if (win && frame.getAttribute("src")) { win.location.replace(url); } else { frame.src = url; }
  }

  function reloadWhenFree() {
    var win = inner();
    if (win && typing(win)) { later(retryMs()); return; }
    scroll = win ? win.scrollY : null;
    var url = waiting;
    waiting = null;
    load(url);
  }

  function tick() {
    if (waiting) { reloadWhenFree(); } else { refresh(0.8); }
  }

  function open(url, lifetimeS) {
    opened += 1;
    waiting = null;
    scroll = null;
    link = {token: tokenOf(url), at: Date.now(), ms: Math.max(lifetimeS, 1) * 1000};
    load(url);
    later(link.ms * 0.8);
  }

  function take(answer, shown) {
    var win = inner();
    var fresh = tokenOf(answer.url);
    link = {token: fresh, at: Date.now(), ms: Math.max(answer.lifetime_s, 1) * 1000};
    later(link.ms * 0.8);
    if ((win ? tokenOf(win.location.href) : null) !== shown) { return; }  // the agent moved on
    if (answer.renewed && shown && win.document.documentElement.hasAttribute("data-renewable")) {
      win.postMessage({type: "connector:link", from: shown, to: fresh}, location.origin);
      return;
    }
    // a page that cannot take it (a search, a message), or a link already out of date: the
    // renewed page, or the requester's record
    waiting = answer.renewed && shown ? win.location.href.split(encodeURIComponent(shown))
      .map(function (part) { return part.split(shown).join(fresh); })
      .join(encodeURIComponent(fresh)) : answer.url;
    reloadWhenFree();
  }

  // asks for a fresh link once `share` of the current one's lifetime has passed
  function refresh(share) {
    if (!link || asking || Date.now() - link.at < link.ms * share) { return; }
    var mine = opened;
    var shown = shownToken();
    asking = true;
    renew(shown || link.token).then(function (answer) {
      asking = false;
      if (mine !== opened) { return; }
      if (!answer) { stop(); return; }
      take(answer, shown);
    }, function () {
      asking = false;
      if (mine === opened && link) { later(retryMs()); }
    });
  }

  function stop() {
    link = null;
    waiting = null;
    clearTimeout(timer);
  }

  frame.addEventListener("load", function () {
    var win = inner();
    if (win && scroll) { win.scrollTo(0, scroll); }
    scroll = null;
  });
  window.addEventListener("message", function (event) {
    var data = event.data;
    if (event.source !== frame.contentWindow || event.origin !== location.origin) { return; }
    if (data && data.type === "connector:stale") { refresh(0); }
  });
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) { refresh(0.5); }
  });
  return {open: open, refresh: refresh, stop: stop};
}

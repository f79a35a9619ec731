// The desk's live updates: a short poll of /desk/live.json; when what the page shows has
// changed, the page's main part is fetched again and swapped in (a draft being typed is kept).
// The title carries the number waiting for a person; a short tone sounds when it grows or a
// new message arrives. Plain JS, no build step, no third-party requests.
(function () {
  "use strict";
  var body = document.body;
  var kind = body.getAttribute("data-live");
  if (!kind) { return; }
  var customer = body.getAttribute("data-customer") || "";
  // What the page was rendered with, so a change between the render and the first poll
  // counts as one (the list renders its count, a conversation its last message's stamp).
  var stamp = body.getAttribute("data-stamp");
  var waiting = body.hasAttribute("data-waiting") ? Number(body.getAttribute("data-waiting")) : null;
  var baseTitle = document.title;
  var audio = null;
  var EVERY = 3000;

  function beep() {
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      var osc = audio.createOscillator();
      var gain = audio.createGain();
      osc.frequency.value = 880;
      gain.gain.value = 0.05;
      osc.connect(gain);
      gain.connect(audio.destination);
      osc.start();
      osc.stop(audio.currentTime + 0.15);
    } catch (e) { /* no sound allowed yet: the badge still shows */ }
  }

  function badge(n) {
    document.title = (n > 0 ? "(" + n + ") " : "") + baseTitle;
  }

  function swap() {
    return fetch(location.href, {credentials: "same-origin"}).then(function (r) {
      if (!r.ok) { return; }
      return r.text().then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById("live");
        var here = document.getElementById("live");
        if (!fresh || !here) { return; }
        var draft = here.querySelector("textarea");
        var kept = draft ? draft.value : null;
        var focused = draft && document.activeElement === draft;
        here.innerHTML = fresh.innerHTML;
        var again = here.querySelector("textarea");
        if (again && kept !== null) {
          again.value = kept;
          if (focused) { again.focus(); }
        }
        body.setAttribute("data-updated", String(Date.now()));
      });
    });
  }

  function poll() {
    var page = body.getAttribute("data-page") || "1";
    var url = "/desk/live.json?" + (customer ? "customer=" + encodeURIComponent(customer)
                                              : "page=" + encodeURIComponent(page));
    fetch(url, {credentials: "same-origin"}).then(function (r) {
      if (r.status === 401) { location.href = "/desk/login"; return null; }
      return r.ok ? r.json() : null;
    }).then(function (data) {
      if (!data) { return; }
      badge(data.waiting);
      var louder = waiting !== null && data.waiting > waiting;
      var changed = stamp !== null && data.stamp !== stamp;
      waiting = data.waiting;
      var first = stamp === null;
      stamp = data.stamp;
      if (louder || (changed && kind === "conversation")) { beep(); }
      if (changed && !first) { return swap(); }
    }).catch(function () { /* offline for a moment: try again */ })
      .then(function () { setTimeout(poll, EVERY); });
  }

  // A canned reply's button puts its text into the answer (the operator may edit, then send).
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest(".canned-reply") : null;
    var area = document.querySelector(".say textarea");
    if (!button || !area) { return; }
    var text = button.getAttribute("data-text") || "";
    area.value = area.value ? area.value.replace(/\s*$/, "") + "\n" + text : text;
    area.focus();
  });

  document.addEventListener("click", function () {
    if (!audio) { try { audio = new (window.AudioContext || window.webkitAudioContext)(); } catch (e) {} }
  }, {once: true});
  poll();
})();

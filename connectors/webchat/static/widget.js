/* svyaz web chat widget.
 * One tag on any page: <script src="https://bot.example.ru/chat/widget.js" defer></script>
 * Options (attributes of that tag, over the SVYAZ_WEBCHAT_* settings the server writes in):
 * data-open="true" opens the panel at once; data-title, data-color (#rrggbb), data-avatar (an
 * image address), data-greeting (the line under the title), data-position ("left"/"right").
 * It lives in a Shadow DOM: the host page's styles do not reach it, its styles do not leak.
 * Talks only to the host it was loaded from. Customer and bot text is only ever set with
 * textContent, never parsed as HTML.
 * Frames: hello on connect; open when the visitor first opens the panel on a socket (the bot
 * greets then); text and button (with its label). From the server: welcome (its last bot
 * message's request_phone: the phone question is still open), reply (from, operator, at,
 * request_phone), typing, idle (no turn runs any more: typing ends even when no reply came),
 * error (with the refused frame's id). Close codes: 1012 (the server
 * restarts) reconnects like any drop; 4403 (this site may not open the chat) stops
 * reconnecting and says so.
 */
(function () {
  "use strict";

  var CONFIG = /*brand*/{}/*brand*/;
  var script = document.currentScript ||
    document.querySelector('script[src*="/chat/widget.js"]');
  if (!script || window.__svyazChat) { return; }
  window.__svyazChat = true;

  function opt(name) { return script.getAttribute("data-" + name) || CONFIG[name] || ""; }

  var base = new URL(script.src, location.href);
  var wsUrl = (base.protocol === "https:" ? "wss://" : "ws://") + base.host + "/chat/ws";
  var cssUrl = base.origin + "/chat/widget.css";
  var storeKey = "svyaz.chat.session";
  var MAX_BYTES = CONFIG.maxBytes || 4096;
  var TYPING_FOR = 8000;
  var T = {
    title: opt("title") || "Чат",
    greeting: opt("greeting"),
    open: "Открыть чат",
    close: "Закрыть чат",
    unread: "новых сообщений: ",
    placeholder: "Напишите сообщение…",
    inputLabel: "Сообщение",
    send: "Отправить",
    phoneLabel: "Номер телефона",
    phonePlaceholder: "+7 999 123-45-67",
    phoneSend: "Отправить номер",
    connecting: "Подключение…",
    offline: "Нет соединения… Пытаемся подключиться снова.",
    refused: "Этот сайт не может открыть чат: его адрес не разрешён в настройках бота.",
    log: "Сообщения чата",
    you: "Вы",
    bot: "Бот",
    operator: "оператор",
    typing: "Печатает…",
    unsent: "Не отправлено: ",
    tooLong: "Сообщение обрезано: больше не поместится."
  };

  var socket = null;
  var ready = false;
  var attempt = 0;
  var timer = null;
  var typingTimer = null;
  var seen = {};
  var counter = 0;
  var unread = 0;
  var sessionId = null;
  var opened = false; // the open frame went out on this socket
  var refused = false; // the server refused this page's origin (4403): no more attempts
  var phoneMode = false;
  var ORIGIN_REFUSED = 4403;
  // Frames sent lately, re-sent after a reconnect in case the old socket lost them: the
  // server turns each into an event id "<session>:<id>", so one already received is dropped.
  var recent = [];
  var RESEND_WINDOW = 30000;
  var RESEND_MAX = 5;
  var pending = {}; // client id -> what to undo when the server refuses that frame
  var linkToken = takeLinkToken();
  var ui = build();

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function storage(op, value) {
    try {
      if (op === "get") { return window.localStorage.getItem(storeKey); }
      window.localStorage.setItem(storeKey, value);
    } catch (e) { /* private mode: the session lasts as long as the page */ }
    return null;
  }

  function takeLinkToken() {
    var match = /(?:^#|&)link=([A-Za-z0-9_-]{1,128})(?:&|$)/.exec(location.hash);
    if (!match) { return null; }
    try {
      history.replaceState(null, "", location.pathname + location.search);
    } catch (e) { location.hash = ""; }
    return match[1];
  }

  // ------------------------------------------------------------------ colours (WCAG 2)

  function rgb(color) {
    var m = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(color || "");
    if (!m) { return null; }
    var h = m[1].length === 3 ? m[1].replace(/./g, "$&$&") : m[1];
    return [0, 2, 4].map(function (i) { return parseInt(h.slice(i, i + 2), 16); });
  }

  function luminance(c) {
    var v = c.map(function (x) {
      x /= 255;
      return x <= 0.03928 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2];
  }

  function contrast(a, b) {
    var x = luminance(a) + 0.05, y = luminance(b) + 0.05;
    return Math.max(x, y) / Math.min(x, y);
  }

  function hex(c) {
    return "#" + c.map(function (x) { return (x < 16 ? "0" : "") + x.toString(16); }).join("");
  }

  // The brand colour, the text on it (white, else near-black, else black: one always reads at
  // 4.5:1), and "ink": the brand darkened until it reads on white (links, borders, focus).
  function palette(color) {
    var c = rgb(color) || rgb("#2f6fde"), white = [255, 255, 255];
    var on = contrast(c, white) >= 4.5 ? white : contrast(c, [17, 24, 39]) >= 4.5 ? [17, 24, 39]
      : [0, 0, 0];
    var ink = c;
    while (contrast(ink, white) < 4.5) {
      ink = ink.map(function (x) { return Math.floor(x * 0.9); });
    }
    return { brand: hex(c), on: hex(on), ink: hex(ink) };
  }

  // ------------------------------------------------------------------ building

  function icon(paths) {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    var path = document.createElementNS(ns, "path");
    path.setAttribute("d", paths);
    svg.appendChild(path);
    return svg;
  }

  function build() {
    var host = el("svyaz-chat");
    host.style.setProperty("all", "initial", "important");
    var shadow = host.attachShadow({ mode: "open" });
    var link = el("link");
    link.rel = "stylesheet";
    link.href = cssUrl;
    shadow.appendChild(link);

    var root = el("div", "svz-root svz-" + (opt("position") === "left" ? "left" : "right"));
    root.setAttribute("hidden", "");
    var colors = palette(opt("color"));
    root.style.setProperty("--svz-brand", colors.brand);
    root.style.setProperty("--svz-on", colors.on);
    root.style.setProperty("--svz-ink", colors.ink);
    link.addEventListener("load", function () { root.removeAttribute("hidden"); });
    link.addEventListener("error", function () { root.removeAttribute("hidden"); });

    var launcher = el("button", "svz-launcher");
    launcher.type = "button";
    launcher.setAttribute("aria-controls", "svz-panel");
    launcher.setAttribute("aria-expanded", "false");
    launcher.appendChild(icon("M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6" +
      "a2 2 0 0 1 2-2z")).setAttribute("class", "svz-icon-chat");
    launcher.appendChild(icon("M6 6l12 12M18 6L6 18")).setAttribute("class", "svz-icon-close");
    var badge = el("span", "svz-badge");
    badge.setAttribute("aria-hidden", "true");
    badge.hidden = true;
    launcher.appendChild(badge);

    var panel = el("section", "svz-panel");
    panel.id = "svz-panel";
    panel.setAttribute("aria-label", T.title);
    panel.hidden = true;

    var header = el("div", "svz-header");
    header.appendChild(avatar());
    var heading = el("div", "svz-heading");
    heading.appendChild(el("h2", "svz-title", T.title));
    if (T.greeting) { heading.appendChild(el("p", "svz-tagline", T.greeting)); }
    header.appendChild(heading);
    var closer = el("button", "svz-close");
    closer.type = "button";
    closer.setAttribute("aria-label", T.close);
    closer.appendChild(icon("M6 6l12 12M18 6L6 18"));
    header.appendChild(closer);

    var status = el("div", "svz-status", T.connecting);
    status.setAttribute("role", "status");

    var log = el("div", "svz-log");
    log.setAttribute("role", "log");
    log.setAttribute("aria-live", "polite");
    log.setAttribute("aria-label", T.log);
    log.tabIndex = 0;

    var typing = el("div", "svz-typing");
    typing.appendChild(el("span", "svz-dots"));
    typing.appendChild(el("span", "", T.typing));
    typing.hidden = true;

    var form = el("form", "svz-form");
    var label = el("label", "svz-sr", T.inputLabel);
    label.htmlFor = "svz-input";
    var input = el("input", "svz-input");
    input.id = "svz-input";
    input.autocomplete = "off";
    var send = el("button", "svz-send", T.send);
    send.type = "submit";
    var hint = el("div", "svz-hint");
    hint.id = "svz-hint";
    hint.setAttribute("aria-live", "polite");
    form.appendChild(label);
    form.appendChild(input);
    form.appendChild(send);

    [header, status, log, typing, hint, form].forEach(function (n) { panel.appendChild(n); });
    root.appendChild(panel);
    root.appendChild(launcher);
    shadow.appendChild(root);
    document.body.appendChild(host);

    launcher.addEventListener("click", function () { toggle(panel.hidden); });
    closer.addEventListener("click", function () { toggle(false); launcher.focus(); });
    root.addEventListener("keydown", function (e) {
      if (e.key === "Escape" && !panel.hidden) { toggle(false); launcher.focus(); }
    });
    form.addEventListener("submit", function (e) { e.preventDefault(); submit(); });
    input.addEventListener("input", limitInput);
    if (window.visualViewport) { window.visualViewport.addEventListener("resize", scrollDown); }

    return {
      root: root, launcher: launcher, badge: badge, panel: panel, status: status, log: log,
      typing: typing, form: form, label: label, input: input, send: send, hint: hint
    };
  }

  function avatar() {
    var box = el("span", "svz-avatar");
    box.setAttribute("aria-hidden", "true");
    var src = opt("avatar");
    if (src) {
      var img = el("img");
      img.alt = "";
      img.referrerPolicy = "no-referrer";
      img.src = new URL(src, base.href).href;
      box.appendChild(img);
    } else {
      box.textContent = T.title.charAt(0).toUpperCase();
    }
    return box;
  }

  // One input row: text, or (while a question asks for it) a phone number.
  function setMode(phone, question) {
    phoneMode = phone;
    var i = ui.input;
    i.type = phone ? "tel" : "text";
    i.inputMode = phone ? "tel" : "text";
    i.autocomplete = phone ? "tel" : "off";
    i.placeholder = phone ? T.phonePlaceholder : T.placeholder;
    ui.label.textContent = phone ? T.phoneLabel : T.inputLabel;
    ui.send.textContent = phone ? T.phoneSend : T.send;
    ui.form.classList.toggle("svz-phone", phone);
    if (phone && question) {
      question.id = "svz-q-" + newId();
      i.setAttribute("aria-describedby", question.id);
    } else {
      i.removeAttribute("aria-describedby");
    }
  }

  function toggle(open) {
    ui.panel.hidden = !open;
    ui.launcher.setAttribute("aria-expanded", open ? "true" : "false");
    ui.root.classList.toggle("svz-open", open);
    if (open) {
      unread = 0;
      showUnread();
      scrollDown();
      if (ready) { ui.input.focus(); }
      sendOpen();
    }
    showUnread();
  }

  function showUnread() {
    var open = !ui.panel.hidden;
    ui.badge.hidden = open || unread === 0;
    ui.badge.textContent = unread > 9 ? "9+" : String(unread);
    ui.launcher.setAttribute("aria-label", open ? T.close
      : T.open + (unread ? " (" + T.unread + unread + ")" : ""));
  }

  // The bot greets a new visitor when the chat is first opened, not while it is closed.
  function sendOpen() {
    if (opened || !ready || ui.panel.hidden || !socket || socket.readyState !== WebSocket.OPEN) {
      return;
    }
    opened = true;
    socket.send(JSON.stringify({ type: "open" }));
  }

  function setReady(value) {
    ready = value;
    ui.status.textContent = value ? "" : (attempt > 0 ? T.offline : T.connecting);
    ui.status.classList.toggle("svz-offline", !value && attempt > 0);
    ui.root.classList.toggle("svz-disconnected", !value);
    var controls = ui.panel.querySelectorAll(".svz-form input, .svz-form button, .svz-choice");
    for (var i = 0; i < controls.length; i++) { controls[i].disabled = !value; }
  }

  function scrollDown() { ui.log.scrollTop = ui.log.scrollHeight; }

  function newId() {
    counter += 1;
    return Date.now().toString(36) + "-" + counter + "-" + Math.random().toString(36).slice(2, 7);
  }

  // The server takes MAX_BYTES of UTF-8: the field never holds more (cut between characters,
  // never inside one).
  function limitInput() {
    var value = ui.input.value, size = 0, end = 0;
    for (var i = 0; i < value.length; i++) {
      var code = value.codePointAt(i);
      var more = code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
      if (size + more > MAX_BYTES) { break; }
      size += more;
      if (code >= 0x10000) { i++; }
      end = i + 1;
    }
    var cut = end < value.length;
    if (cut) { ui.input.value = value.slice(0, end); }
    ui.hint.textContent = cut ? T.tooLong : "";
  }

  function sendFrame(frame, label) {
    if (!ready || !socket || socket.readyState !== WebSocket.OPEN) { return false; }
    socket.send(JSON.stringify(frame));
    recent.push({ frame: frame, label: label, session: sessionId, at: Date.now() });
    if (recent.length > RESEND_MAX) { recent.shift(); }
    return true;
  }

  function resendRecent(history) {
    var shown = history.slice(-2 * RESEND_MAX).filter(function (h) { return h.direction === "in"; })
      .map(function (h) { return h.text; });
    var now = Date.now();
    var again = recent.filter(function (r) {
      return r.session === sessionId && now - r.at < RESEND_WINDOW;
    });
    recent = again;
    again.forEach(function (r) {
      socket.send(JSON.stringify(r.frame));
      if (shown.indexOf(r.label) >= 0) { return; }
      track(r.frame, addMessage({ direction: "in", text: r.label }));
      if (phoneMode) { setMode(false); } // the visitor answered the question before the drop
    });
  }

  function track(frame, item, keyboard) {
    pending[frame.id] = { item: item, text: frame.type === "text" ? frame.text : "", keyboard: keyboard };
    var ids = Object.keys(pending);
    if (ids.length > RESEND_MAX) { delete pending[ids[0]]; }
  }

  function submit() {
    var input = ui.input;
    var text = input.value.trim();
    if (!text) { return; }
    var frame = { type: "text", text: text, id: newId() };
    if (!sendFrame(frame, text)) { return; }
    input.value = "";
    ui.hint.textContent = "";
    var keyboard = collapseKeyboards();
    track(frame, addMessage({ direction: "in", text: text }), keyboard);
    if (phoneMode) { setMode(false); }
    input.focus();
  }

  // A button from history without an id (stored before history kept ids) is sent as its
  // label: the bot accepts an option by its text.
  function press(button, fromHistory) {
    var frame = fromHistory && !button.id ? { type: "text", text: button.text, id: newId() }
      : { type: "button", button: button.id, text: button.text, id: newId() };
    if (!sendFrame(frame, button.text)) { return; }
    var keyboard = collapseKeyboards();
    track(frame, addMessage({ direction: "in", text: button.text }), keyboard);
    if (phoneMode) { setMode(false); }
    ui.input.focus();
  }

  // An answered keyboard folds away (the answer is the visitor's bubble); links stay.
  function collapseKeyboards() {
    var rows = ui.log.querySelectorAll(".svz-buttons:not(.svz-answered)");
    for (var i = 0; i < rows.length; i++) { rows[i].classList.add("svz-answered"); }
    return rows.length ? rows[rows.length - 1] : null;
  }

  // The server refused a frame (too long, too fast, not recorded): the message is marked not
  // sent, with the reason, and its text goes back into the field.
  function refuse(id, reason) {
    var p = pending[id];
    if (!p) { return false; }
    delete pending[id];
    recent = recent.filter(function (r) { return r.frame.id !== id; });
    p.item.classList.add("svz-failed");
    var why = el("span", "svz-fail", T.unsent + reason);
    why.setAttribute("role", "alert");
    p.item.appendChild(why);
    if (p.keyboard) { p.keyboard.classList.remove("svz-answered"); }
    if (p.text && !ui.input.value) { ui.input.value = p.text; }
    ui.input.focus();
    scrollDown();
    return true;
  }

  function safeUrl(url) {
    try {
      var parsed = new URL(url, base.href);
      return (parsed.protocol === "https:" || parsed.protocol === "http:") ? parsed.href : null;
    } catch (e) { return null; }
  }

  function clock(ms) {
    var at = new Date(ms);
    var time = el("time", "svz-time", ("0" + at.getHours()).slice(-2) + ":" +
      ("0" + at.getMinutes()).slice(-2));
    time.dateTime = at.toISOString();
    return time;
  }

  // m: direction, text, buttons, at (ms), from, operator.
  function addMessage(m, fromHistory) {
    var item = el("div", "svz-msg svz-" + m.direction);
    var who = m.direction === "in" ? T.you : m.operator ? m.operator + ", " + T.operator : T.bot;
    if (m.operator) { item.appendChild(el("span", "svz-who", who)).setAttribute("aria-hidden", "true"); }
    var body = el("p", "svz-text", m.text);
    body.insertBefore(el("span", "svz-sr", who + ": "), body.firstChild);
    item.appendChild(body);
    item.appendChild(clock(typeof m.at === "number" ? m.at : Date.now()));
    if (m.buttons && m.buttons.length) { item.appendChild(renderButtons(m.buttons, fromHistory)); }
    if (m.operator) { item.classList.add("svz-operator"); }
    ui.log.appendChild(item);
    scrollDown();
    return item;
  }

  function renderButtons(buttons, fromHistory) {
    var row = el("div", "svz-buttons");
    buttons.forEach(function (b) {
      var href = b.url ? safeUrl(b.url) : null;
      if (href) {
        var a = el("a", "svz-link", b.text);
        a.href = href;
        a.target = "_blank";
        a.rel = "noopener noreferrer";
        row.appendChild(a);
      } else if (!b.url) {
        var button = el("button", "svz-choice", b.text);
        button.type = "button";
        button.disabled = !ready;
        button.addEventListener("click", function () { press(b, fromHistory); });
        row.appendChild(button);
      }
    });
    if (row.querySelector(".svz-choice")) { row.classList.add("svz-has-choice"); }
    evenRows(row.children);
    return row;
  }

  // Quick replies fill their rows evenly on a desktop (widget.css): as many to a row as fit on
  // one line, three at most, the rows balanced (3+2 and 2+2, never 3+1), the last rows one
  // button fewer. A label's width is judged by its length: the panel is 370 px wide there
  // (a phone stacks them). A longer label wraps inside its button.
  function evenRows(items) {
    var n = items.length, longest = 0;
    for (var i = 0; i < n; i++) {
      longest = Math.max(longest, items[i].textContent.length + (items[i].href ? 2 : 0));
    }
    var fit = longest <= 8 ? 3 : longest <= 14 ? 2 : 1;
    var per = Math.ceil(n / Math.ceil(n / fit));
    var fewer = Math.ceil(n / per) * per - n;  // rows of per - 1, placed last
    for (i = 0; i < n; i++) {
      items[i].style.setProperty("--svz-per", i < n - fewer * (per - 1) ? per : per - 1);
    }
  }

  function note(text) {
    var item = el("div", "svz-note", text);
    item.setAttribute("role", "alert");
    ui.log.appendChild(item);
    scrollDown();
  }

  function onWelcome(frame) {
    if (typeof frame.session !== "string") { return; }
    storage("set", frame.session);
    sessionId = frame.session.split(".")[0];
    linkToken = null;
    attempt = 0;
    ui.log.textContent = "";
    var history = Array.isArray(frame.history) ? frame.history : [];
    var question = null, phone = false;
    history.forEach(function (h) {
      collapseKeyboards(); // as live: a newer message (either side's) folds an older keyboard
      var item = addMessage({
        direction: h.direction === "in" ? "in" : "out", text: String(h.text || ""),
        buttons: Array.isArray(h.buttons) ? h.buttons : [], at: h.at,
        operator: h.from === "operator" && h.operator ? String(h.operator) : ""
      }, true);
      if (h.direction !== "in") { question = item; phone = h.request_phone === true; }
    });
    setMode(phone, question); // the input row of the question still open (the last bot message)
    resendRecent(history);
    setReady(true);
    sendOpen();
  }

  function setTyping(on) {
    clearTimeout(typingTimer);
    ui.typing.hidden = !on;
    if (on) {
      typingTimer = setTimeout(function () { setTyping(false); }, TYPING_FOR);
      scrollDown();
    }
  }

  function onReply(frame) {
    if (typeof frame.id === "string") {
      if (seen[frame.id]) { return; }
      seen[frame.id] = true;
    }
    setTyping(false);
    collapseKeyboards();
    var item = addMessage({
      direction: "out", text: String(frame.text || ""),
      buttons: Array.isArray(frame.buttons) ? frame.buttons : [],
      at: frame.at, operator: frame.from === "operator" && frame.operator ? String(frame.operator) : ""
    });
    setMode(!!frame.request_phone, item);
    if (frame.request_phone) {
      item.scrollIntoView({ block: "nearest" });
      if (!ui.panel.hidden) { ui.input.focus(); }
    }
    if (ui.panel.hidden) { unread += 1; showUnread(); }
  }

  function onFrame(event) {
    var frame;
    try { frame = JSON.parse(event.data); } catch (e) { return; }
    if (!frame || typeof frame !== "object") { return; }
    if (frame.type === "welcome") { onWelcome(frame); }
    else if (frame.type === "reply") { onReply(frame); }
    else if (frame.type === "typing") { setTyping(true); }
    else if (frame.type === "idle") { setTyping(false); } // the turn is over, replied or not
    else if (frame.type === "error") {
      setTyping(false);
      // The server words every error (connectors/texts.py), so the widget keeps no copy.
      var message = String(frame.message || "Ошибка.");
      if (!(typeof frame.id === "string" && refuse(frame.id, message))) { note(message); }
    }
  }

  function connect() {
    timer = null;
    opened = false;
    var ws;
    try { ws = new WebSocket(wsUrl); } catch (e) { scheduleReconnect(); return; }
    socket = ws;
    ws.onopen = function () {
      var hello = { type: "hello", session: storage("get") };
      if (linkToken) { hello.link = linkToken; }
      ws.send(JSON.stringify(hello));
    };
    ws.onmessage = onFrame;
    ws.onclose = function (event) {
      if (socket !== ws) { return; }
      socket = null;
      setTyping(false);
      if (event.code === ORIGIN_REFUSED) { refuseOrigin(); return; }
      scheduleReconnect();
    };
  }

  function refuseOrigin() {
    refused = true;
    setReady(false);
    ui.status.textContent = T.refused;
    ui.status.classList.add("svz-offline");
  }

  function scheduleReconnect() {
    attempt += 1;
    setReady(false);
    if (timer) { return; }
    var ceiling = Math.min(30000, 500 * Math.pow(2, attempt - 1));
    var delay = ceiling / 2 + Math.random() * ceiling / 2;
    timer = setTimeout(connect, delay);
  }

  function reconnectNow() {
    if (refused || socket || !timer) { return; }
    clearTimeout(timer);
    connect();
  }

  window.addEventListener("online", reconnectNow);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") { reconnectNow(); }
  });

  setMode(false);
  setReady(false);
  showUnread();
  if (script.getAttribute("data-open") === "true") { toggle(true); }
  connect();
})();

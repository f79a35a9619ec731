/* svyaz web chat widget.
 * One tag on any page: <script src="https://bot.example.ru/chat/widget.js" defer></script>
 * Options (attributes of that tag): data-open="true" opens the panel at once,
 * data-title="..." sets the header text.
 * Talks only to the host it was loaded from. Customer and bot text is only ever set with
 * textContent, never parsed as HTML.
 * Frames: hello on connect; open when the visitor first opens the panel on a socket (the bot
 * greets then); text and button. Close codes: 1012 (the server restarts) reconnects like any
 * drop; 4403 (this site may not open the chat) stops reconnecting and says so.
 */
(function () {
  "use strict";

  var script = document.currentScript ||
    document.querySelector('script[src*="/chat/widget.js"]');
  if (!script || window.__svyazChat) { return; }
  window.__svyazChat = true;

  var base = new URL(script.src, location.href);
  var wsUrl = (base.protocol === "https:" ? "wss://" : "ws://") + base.host + "/chat/ws";
  var cssUrl = base.origin + "/chat/widget.css";
  var storeKey = "svyaz.chat.session";
  var T = {
    title: script.getAttribute("data-title") || "Чат",
    close: "Закрыть чат",
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
    bot: "Бот"
  };

  var socket = null;
  var ready = false;
  var attempt = 0;
  var timer = null;
  var seen = {};
  var counter = 0;
  var sessionId = null;
  var opened = false; // the open frame went out on this socket
  var refused = false; // the server refused this page's origin (4403): no more attempts
  var ORIGIN_REFUSED = 4403;
  // Frames sent lately, re-sent after a reconnect in case the old socket lost them: the
  // server turns each into an event id "<session>:<id>", so one already received is dropped.
  var recent = [];
  var RESEND_WINDOW = 30000;
  var RESEND_MAX = 5;
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

  function build() {
    var link = el("link");
    link.rel = "stylesheet";
    link.href = cssUrl;
    document.head.appendChild(link);

    var root = el("div", "svz-root");
    root.setAttribute("hidden", "");
    link.addEventListener("load", function () { root.removeAttribute("hidden"); });
    link.addEventListener("error", function () { root.removeAttribute("hidden"); });

    var launcher = el("button", "svz-launcher", T.title);
    launcher.type = "button";
    launcher.setAttribute("aria-controls", "svz-panel");
    launcher.setAttribute("aria-expanded", "false");

    var panel = el("section", "svz-panel");
    panel.id = "svz-panel";
    panel.setAttribute("aria-label", T.title);
    panel.hidden = true;

    var header = el("div", "svz-header");
    var title = el("h2", "svz-title", T.title);
    var closer = el("button", "svz-close", "×");
    closer.type = "button";
    closer.setAttribute("aria-label", T.close);
    header.appendChild(title);
    header.appendChild(closer);

    var status = el("div", "svz-status", T.connecting);
    status.setAttribute("role", "status");

    var log = el("div", "svz-log");
    log.setAttribute("role", "log");
    log.setAttribute("aria-live", "polite");
    log.setAttribute("aria-label", T.log);
    log.tabIndex = 0;

    var form = inputForm("svz-form", "svz-input", "text", T.inputLabel, T.placeholder, T.send);
    var phone = inputForm("svz-phone", "svz-phone-input", "tel", T.phoneLabel,
      T.phonePlaceholder, T.phoneSend);
    phone.form.hidden = true;
    phone.input.autocomplete = "tel";
    phone.input.inputMode = "tel";

    panel.appendChild(header);
    panel.appendChild(status);
    panel.appendChild(log);
    panel.appendChild(phone.form);
    panel.appendChild(form.form);
    root.appendChild(panel);
    root.appendChild(launcher);
    document.body.appendChild(root);

    launcher.addEventListener("click", function () { toggle(panel.hidden); });
    closer.addEventListener("click", function () { toggle(false); launcher.focus(); });
    form.form.addEventListener("submit", function (e) { e.preventDefault(); submit(form.input); });
    phone.form.addEventListener("submit", function (e) {
      e.preventDefault();
      if (submit(phone.input)) { phone.form.hidden = true; form.input.focus(); }
    });

    return {
      root: root, launcher: launcher, panel: panel, status: status, log: log,
      form: form, phone: phone
    };
  }

  function inputForm(cls, inputCls, type, label, placeholder, sendText) {
    var form = el("form", "svz-form " + cls);
    var id = "svz-" + cls + "-" + Math.random().toString(36).slice(2, 8);
    var lab = el("label", "svz-sr", label);
    lab.htmlFor = id;
    var input = el("input", "svz-input " + inputCls);
    input.type = type;
    input.id = id;
    input.placeholder = placeholder;
    input.maxLength = 4000;
    input.autocomplete = "off";
    var button = el("button", "svz-send", sendText);
    button.type = "submit";
    form.appendChild(lab);
    form.appendChild(input);
    form.appendChild(button);
    return { form: form, input: input, button: button };
  }

  function toggle(open) {
    ui.panel.hidden = !open;
    ui.launcher.setAttribute("aria-expanded", open ? "true" : "false");
    ui.root.classList.toggle("svz-open", open);
    if (open) {
      ui.launcher.classList.remove("svz-unread");
      scrollDown();
      if (ready) { ui.form.input.focus(); }
      sendOpen();
    }
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
    for (var i = 0; i < controls.length; i++) {
      if (!controls[i].classList.contains("svz-stale")) { controls[i].disabled = !value; }
    }
  }

  function scrollDown() { ui.log.scrollTop = ui.log.scrollHeight; }

  function newId() {
    counter += 1;
    return Date.now().toString(36) + "-" + counter + "-" + Math.random().toString(36).slice(2, 7);
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
      if (shown.indexOf(r.label) < 0) { addMessage("in", r.label, []); }
    });
  }

  function submit(input) {
    var text = input.value.trim();
    if (!text) { return false; }
    if (!sendFrame({ type: "text", text: text, id: newId() }, text)) { return false; }
    input.value = "";
    retireButtons();
    addMessage("in", text, []);
    return true;
  }

  // A button from history without an id (stored before history kept ids) is sent as its
  // label: the bot accepts an option by its text.
  function press(button, fromHistory) {
    var frame = fromHistory && !button.id ? { type: "text", text: button.text, id: newId() }
      : { type: "button", button: button.id, id: newId() };
    if (!sendFrame(frame, button.text)) { return; }
    retireButtons();
    addMessage("in", button.text, []);
  }

  function retireButtons() {
    var old = ui.log.querySelectorAll(".svz-choice");
    for (var i = 0; i < old.length; i++) {
      old[i].disabled = true;
      old[i].classList.add("svz-stale");
    }
  }

  function safeUrl(url) {
    try {
      var parsed = new URL(url, base.href);
      return (parsed.protocol === "https:" || parsed.protocol === "http:") ? parsed.href : null;
    } catch (e) { return null; }
  }

  function addMessage(direction, text, buttons, fromHistory) {
    var item = el("div", "svz-msg svz-" + direction);
    var who = el("span", "svz-sr", (direction === "in" ? T.you : T.bot) + ": ");
    var body = el("p", "svz-text", text);
    body.insertBefore(who, body.firstChild);
    item.appendChild(body);
    if (buttons && buttons.length) { item.appendChild(renderButtons(buttons, fromHistory)); }
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
    return row;
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
    ui.phone.form.hidden = true;
    var history = Array.isArray(frame.history) ? frame.history : [];
    history.forEach(function (h) {
      retireButtons();
      addMessage(h.direction === "in" ? "in" : "out", String(h.text || ""),
        Array.isArray(h.buttons) ? h.buttons : [], true);
    });
    resendRecent(history);
    setReady(true);
    retireIfAnswered();
    sendOpen();
  }

  function retireIfAnswered() {
    var last = ui.log.lastElementChild;
    if (last && last.classList.contains("svz-in")) { retireButtons(); }
  }

  function onReply(frame) {
    if (typeof frame.id === "string") {
      if (seen[frame.id]) { return; }
      seen[frame.id] = true;
    }
    retireButtons();
    addMessage("out", String(frame.text || ""), Array.isArray(frame.buttons) ? frame.buttons : []);
    ui.phone.form.hidden = !frame.request_phone;
    if (frame.request_phone && !ui.panel.hidden) { ui.phone.input.focus(); }
    if (ui.panel.hidden) { ui.launcher.classList.add("svz-unread"); }
  }

  function onFrame(event) {
    var frame;
    try { frame = JSON.parse(event.data); } catch (e) { return; }
    if (!frame || typeof frame !== "object") { return; }
    if (frame.type === "welcome") { onWelcome(frame); }
    else if (frame.type === "reply") { onReply(frame); }
    else if (frame.type === "error") {
      // The server words every error (connectors/texts.py), so the widget keeps no copy.
      note(String(frame.message || "Ошибка."));
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
      if (event.code === ORIGIN_REFUSED) { refuse(); return; }
      scheduleReconnect();
    };
  }

  function refuse() {
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

  setReady(false);
  if (script.getAttribute("data-open") === "true") { toggle(true); }
  connect();
})();

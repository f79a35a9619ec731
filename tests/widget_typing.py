"""What the widget's browser tests watch on the page (tests/bots and tests/connectors)."""

# Set on the page: whether the typing indicator was ever shown from now on.
WATCH_TYPING = """() => {
  const typing = document.querySelector("svyaz-chat").shadowRoot.querySelector(".svz-typing");
  window.__typingShown = false;
  new MutationObserver(() => { if (!typing.hidden) { window.__typingShown = true; } })
    .observe(typing, { attributes: true, attributeFilter: ["hidden"] });
}"""

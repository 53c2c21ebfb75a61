/* Folio portal: small progressive enhancements. Every page works without this file.
 *
 * - [data-check-all="<selector>"] / [data-check-none="<selector>"] buttons tick or untick the
 *   checkboxes matched by <selector>.
 * - In a .tree of checkboxes, ticking a section ticks its subsections too.
 * - form[data-confirm]: asks before submitting (Cancel of a running generation).
 * - The document page's status card: after each poll swaps its values in place, the one live
 *   region (#status-announcer) says data-announce when it changed (each step and the end once),
 *   and the page title follows data-title.
 * - A sticky bar (.regenerate-bar) never hides the focused element (WCAG 2.4.11): its height is
 *   kept in --sticky-bottom (the page's scroll-padding-bottom), and an element focused under it
 *   is scrolled above it.
 * - When the job ends and the card's buttons are swapped, focus that was on Cancel moves to the
 *   first button of the finished card (Download .docx).
 * - The section navigator (details.section-nav) starts open on wide screens, closed on narrow.
 * - A citation's "Show page …" link fills the side panel (#source-panel) and moves focus to its
 *   heading; Close (or Escape inside it) empties it and gives focus back to the link.
 * Event delegation keeps these working on content swapped in by htmx.
 */
(function () {
  "use strict";

  document.documentElement.classList.replace("no-js", "js");

  function setAll(selector, value) {
    document.querySelectorAll(selector).forEach(function (box) {
      if (!box.disabled) { box.checked = value; }
    });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-check-all], [data-check-none]");
    if (!button) { return; }
    event.preventDefault();
    if (button.hasAttribute("data-check-all")) {
      setAll(button.getAttribute("data-check-all"), true);
    } else {
      setAll(button.getAttribute("data-check-none"), false);
    }
  });

  document.addEventListener("change", function (event) {
    var box = event.target;
    if (!box.matches || !box.matches(".tree input[type=checkbox]")) { return; }
    var item = box.closest("li");
    if (!item) { return; }
    item.querySelectorAll("ul input[type=checkbox]").forEach(function (child) {
      child.checked = box.checked;
    });
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (!question) { return; }
    if (!window.confirm(question)) { event.preventDefault(); return; }
    // Answered here: the server need not ask again (without JavaScript it shows a page that asks).
    if (form.elements.confirmed) { form.elements.confirmed.value = "yes"; }
  });

  // --- the status card's one live region ------------------------------------------------------
  var lastAnnounced = null;
  function followStatus(initial) {
    var values = document.getElementById("status-values");
    var announcer = document.getElementById("status-announcer");
    if (!values || !announcer) { return; }
    var said = values.getAttribute("data-announce") || "";
    var title = values.getAttribute("data-title");
    if (title && document.title !== title) { document.title = title; }
    if (initial || lastAnnounced === null) { lastAnnounced = said; return; }
    if (said && said !== lastAnnounced) {
      lastAnnounced = said;
      announcer.textContent = said;
    }
  }

  // --- the sticky regenerate bar never covers the focused element -----------------------------
  function stickyBar() {
    return document.querySelector(".regenerate-bar");
  }
  function measureBar() {
    var bar = stickyBar();
    var height = bar ? bar.getBoundingClientRect().height : 0;
    document.documentElement.style.setProperty("--sticky-bottom", Math.ceil(height) + "px");
  }
  document.addEventListener("focusin", function (event) {
    var bar = stickyBar();
    var target = event.target;
    if (!bar || bar.contains(target) || !target.getBoundingClientRect) { return; }
    var barTop = bar.getBoundingClientRect().top;
    var rect = target.getBoundingClientRect();
    if (rect.bottom > barTop - 4 && rect.top < window.innerHeight) {
      window.scrollBy(0, rect.bottom - barTop + 16);
    }
  });
  window.addEventListener("resize", measureBar);

  // --- the section navigator: open on wide screens, a closed menu on narrow ones --------------
  var narrow = window.matchMedia("(max-width: 52rem)");
  function placeNavigator() {
    document.querySelectorAll("details.section-nav").forEach(function (nav) {
      nav.open = !narrow.matches;
    });
  }
  if (narrow.addEventListener) { narrow.addEventListener("change", placeNavigator); }
  document.addEventListener("click", function (event) {
    // On narrow screens, following a link of the navigator closes the menu.
    var link = event.target.closest("details.section-nav a");
    if (link && narrow.matches) { link.closest("details").open = false; }
  });

  // --- the cited source in a side panel ----------------------------------------------------------
  var panelOpener = null;
  document.addEventListener("click", function (event) {
    var opener = event.target.closest(".cite-open");
    if (opener) { panelOpener = opener; }
    var close = event.target.closest("[data-close-panel]");
    if (!close) { return; }
    var panel = document.getElementById("source-panel");
    if (!panel || !panel.contains(close)) { window.history.back(); return; }
    panel.hidden = true;
    panel.innerHTML = "";
    var layout = panel.closest(".draft-layout");
    if (layout) { layout.classList.remove("has-panel"); }
    if (panelOpener && document.body.contains(panelOpener)) { panelOpener.focus(); }
  });
  document.addEventListener("keydown", function (event) {
    // Escape in the side panel closes it, like its Close button.
    if (event.key !== "Escape") { return; }
    var panel = document.getElementById("source-panel");
    var close = panel && !panel.hidden && panel.querySelector("[data-close-panel]");
    if (close && panel.contains(document.activeElement)) { close.click(); }
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    var panel = event.detail && event.detail.target;
    if (!panel || panel.id !== "source-panel") { return; }
    panel.hidden = false;
    var layout = panel.closest(".draft-layout");
    if (layout) { layout.classList.add("has-panel"); }
    var heading = panel.querySelector("h2");
    if (heading) { heading.focus(); }
  });

  function onReady() {
    followStatus(true);
    measureBar();
    placeNavigator();
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", onReady);
  } else {
    onReady();
  }
  document.addEventListener("htmx:afterSettle", function (event) {
    followStatus(false);
    measureBar();
    var target = event.detail && event.detail.elt;
    if (target && target.querySelector && target.querySelector("details.section-nav")) {
      placeNavigator();
    }
  });
  // The buttons are swapped once, when the job ends: focus that was on them (Cancel) moves to
  // the first action of the finished card (Download .docx) instead of falling to the page.
  var focusWasInActions = false;
  document.addEventListener("htmx:oobBeforeSwap", function (event) {
    var target = event.detail && event.detail.target;
    if (target && target.id === "status-actions") {
      focusWasInActions = target.contains(document.activeElement);
    }
  });
  document.addEventListener("htmx:oobAfterSwap", function (event) {
    var swapped = event.detail && event.detail.target;
    if (focusWasInActions && swapped && swapped.id === "status-actions") {
      focusWasInActions = false;
      var next = document.querySelector("#status-actions a, #status-actions button");
      if (next) { next.focus(); }
    }
    followStatus(false);
    measureBar();
    var target = event.detail && (event.detail.target || event.detail.elt);
    if (target && target.id === "draft-preview") { placeNavigator(); }
  });
})();

/* Folio portal: small progressive enhancements. Every page works without this file.
 *
 * - [data-check-all="<selector>"] / [data-check-none="<selector>"] buttons tick or untick the
 *   checkboxes matched by <selector>.
 * - In a .tree of checkboxes, ticking a section ticks its subsections too.
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
})();

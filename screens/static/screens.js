// The screens' thin script: on-screen keys (PIN pad, keyboard, figures), one submit per form,
// and a reload when the table's, the box's or the polls' state changes (live pages only).
(function () {
  "use strict";
  var body = document.body;
  var current = null;               // the figure field the figures pad types into
  function target(key) {
    var id = key.getAttribute("data-target");
    if (id) { return document.getElementById(id); }
    return current || document.querySelector("[data-figure]");
  }
  document.addEventListener("focusin", function (e) {
    if (e.target.hasAttribute && e.target.hasAttribute("data-figure")) {
      if (current) { current.classList.remove("current"); }
      current = e.target; current.classList.add("current");
    }
  });
  document.addEventListener("click", function (e) {
    var next = e.target.closest("[data-next]");
    if (next) {
      // The visible fields only: a closed party's numbers are skipped.
      var all = Array.prototype.slice.call(document.querySelectorAll("[data-figure]"))
        .filter(function (el) { return el.offsetParent !== null; });
      var i = all.indexOf(current);
      if (i >= 0 && i + 1 < all.length) { all[i + 1].focus(); }
      e.preventDefault(); return;
    }
    var key = e.target.closest("[data-key]");
    if (!key) { return; }
    var t = target(key);
    if (!t) { return; }
    var k = key.getAttribute("data-key");
    if (k === "⌫") { t.value = t.value.slice(0, -1); }
    else if (k === "C") { t.value = ""; }
    else { t.value += k; }
    e.preventDefault();
  });
  document.addEventListener("submit", function (e) {
    var f = e.target;
    if (f.getAttribute("data-sent")) { e.preventDefault(); return; }   // a double tap: one request
    f.setAttribute("data-sent", "1");
  });
  var first = document.querySelector("[data-figure]");
  if (first) { first.focus(); }
  // Leaving the page (a tap on a link or a form): no reload may cancel that navigation.
  var leaving = false;
  document.addEventListener("click", function (e) { if (e.target.closest("a[href], button[type=submit], form button:not([type])")) { leaving = true; } }, true);
  document.addEventListener("submit", function () { leaving = true; }, true);
  if (body.getAttribute("data-live") === "1") {
    // "boot" changes when the server restarted: the page shows what the new run knows.
    var watch = (body.getAttribute("data-watch") || "polls").split(" ").concat(["boot"]);
    setInterval(function () {
      if (leaving) { return; }
      fetch("/state", {cache: "no-store"}).then(function (r) { return r.json(); }).then(function (s) {
        var changed = watch.some(function (k) { return String(s[k]) !== body.getAttribute("data-" + k); });
        if (changed && !leaving) { location.reload(); }
      }).catch(function () {});
    }, 300);
  }
})();

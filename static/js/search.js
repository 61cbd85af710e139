// Filters the converter lists as you type. Without JavaScript every converter is listed.
(function () {
  "use strict";
  var input = document.querySelector("[data-search-input]");
  if (!input) return;
  var items = Array.prototype.slice.call(document.querySelectorAll("[data-search]"));
  var groups = Array.prototype.slice.call(document.querySelectorAll("[data-group]"));
  var rows = Array.prototype.slice.call(document.querySelectorAll("[data-source-row]"));
  var popular = document.querySelector("[data-popular]");
  var empty = document.querySelector("[data-search-empty]");
  var status = document.getElementById("search-status");

  function terms(q) {
    // "png to jpg" and "png-to-jpg" both mean: both words must match.
    return q.toLowerCase().replace(/-to-|\bto\b|→|>/g, " ").split(/\s+/).filter(Boolean);
  }

  function matches(item, words) {
    var text = item.getAttribute("data-search");
    var label = item.textContent.toLowerCase().replace(/\s+/g, " ");
    if (words.length === 2) {
      // Two words read as "from to": the label's order must match.
      var parts = label.trim().split(/ → | to /);
      if (parts.length === 2) {
        return parts[0].indexOf(words[0]) !== -1 && parts[1].indexOf(words[1]) !== -1;
      }
    }
    return words.every(function (w) { return text.indexOf(w) !== -1 || label.indexOf(w) !== -1; });
  }

  function apply() {
    var words = terms(input.value);
    var shown = 0;
    items.forEach(function (item) {
      var ok = !words.length || matches(item, words);
      item.hidden = !ok;
      if (ok) shown++;
    });
    rows.forEach(function (r) {
      r.hidden = !r.querySelector("[data-search]:not([hidden])");
    });
    if (popular) popular.hidden = words.length > 0;
    groups.forEach(function (g) {
      g.hidden = !g.querySelector("[data-search]:not([hidden])");
    });
    if (empty) empty.hidden = shown !== 0;
    if (status) status.textContent = words.length ? shown + " converter" + (shown === 1 ? "" : "s") + " found" : "";
  }

  input.addEventListener("input", apply);
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter") {
      var first = document.querySelector("[data-search]:not([hidden]) a");
      if (first) { e.preventDefault(); first.click(); }
    }
  });
  var q = new URLSearchParams(location.search).get("q");
  if (q) { input.value = q; }
  apply();
})();

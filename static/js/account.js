// Cached pages carry nothing personal: ask who is signed in (a no-store request).
(function () {
  "use strict";
  var slot = document.querySelector("[data-account-slot]");
  if (!slot || !window.fetch) return;
  // Shared with convert.js (limits for the size check before an upload starts).
  window.convertAllMe = fetch("/accounts/me", { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then(function (r) { return r.ok ? r.json() : null; })
    .catch(function () { return null; });
  window.convertAllMe.then(function (me) {
      if (!me) return;
      var a = slot.querySelector("a");
      if (me.authenticated) {
        a.textContent = me.username;
      } else {
        a.textContent = "Log in";
        a.href = "/accounts/login/";
        var li = document.createElement("li");
        li.innerHTML = '<a class="button button-small" href="/accounts/signup/">Sign up</a>';
        slot.parentNode.appendChild(li);
      }
    });
})();

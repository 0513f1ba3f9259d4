/* Qingting workbench: small progressive enhancements. Every page works without this file. */
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  function ready(fn) {
    if (document.readyState !== "loading") fn(); else document.addEventListener("DOMContentLoaded", fn);
  }

  // New complaint form: show only the selected industry profile's fields.
  function syncProfiles() {
    var select = document.getElementById("profile-select");
    if (!select) return;
    document.querySelectorAll(".profile-fields").forEach(function (box) {
      var on = box.getAttribute("data-profile") === select.value;
      box.hidden = !on;
      box.querySelectorAll("input, select, textarea").forEach(function (el) { el.disabled = !on; });
    });
  }

  // Customer lookup: fill the name and e-mail of a known customer when still empty.
  function fillFromLookup(root) {
    var found = (root || document).querySelector(".lookup-customer");
    var form = document.getElementById("intake-form");
    if (!found || !form) return;
    var name = form.querySelector("input[name=name]");
    var email = form.querySelector("input[name=email]");
    if (name && !name.value) name.value = found.getAttribute("data-name") || "";
    if (email && !email.value) email.value = found.getAttribute("data-email") || "";
  }

  ready(function () {
    var select = document.getElementById("profile-select");
    if (select) { select.addEventListener("change", syncProfiles); syncProfiles(); }
    fillFromLookup(document);
    // Flash messages fade after a while; errors stay.
    document.querySelectorAll(".flash li.success").forEach(function (li) {
      setTimeout(function () { li.classList.add("fade"); }, 6000);
    });
  });

  document.addEventListener("htmx:afterSwap", function (ev) { fillFromLookup(ev.target.parentNode || document); });
})();

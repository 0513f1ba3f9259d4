// Live reply checker: POST /api/v1/coaching/reply-check as the agent types (debounced).
// No inline script (CSP); any textarea with data-reply-check gets it.
(function () {
  "use strict";
  function csrf(form) {
    var el = form && form.querySelector("input[name=csrfmiddlewaretoken]");
    return el ? el.value : "";
  }
  function render(box, data) {
    var score = box.querySelector(".reply-score");
    var list = box.querySelector(".reply-findings");
    score.textContent = data.score;
    score.setAttribute("data-score", data.score);
    while (list.firstChild) list.removeChild(list.firstChild);
    (data.findings || []).forEach(function (f) {
      var li = document.createElement("li");
      li.className = "sev-" + f.severity;
      li.setAttribute("data-code", f.code);
      li.textContent = f.message_zh;
      list.appendChild(li);
    });
  }
  function attach(area) {
    var form = area.closest("form");
    var box = form.querySelector(".reply-check");
    var timer = null, seq = 0;
    area.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var mine = ++seq;
        fetch(area.getAttribute("data-reply-check"), {
          method: "POST", credentials: "same-origin",
          headers: {"Content-Type": "application/json", "X-CSRFToken": csrf(form)},
          body: JSON.stringify({text: area.value, number: area.getAttribute("data-number") || null})
        }).then(function (r) { return r.ok ? r.json() : null; })
          .then(function (data) { if (data && mine === seq) render(box, data); })
          .catch(function () {});
      }, 350);
    });
  }
  function init() {
    Array.prototype.forEach.call(document.querySelectorAll("textarea[data-reply-check]"), attach);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();

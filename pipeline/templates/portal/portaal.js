// The partner portal's one script (served at /partners/portaal.js): the B1 tips on the story's title
// and summary while the partner types. Without it the same tips come after saving.
(function () {
  "use strict";
  var form = document.querySelector("form[data-tips]");
  if (!form) { return; }
  var timer = null;
  function show(key, tips) {
    var box = document.getElementById(key + "-live");
    if (!box) { return; }
    box.textContent = tips.length ? "Tip: " + tips.join(" ") : "";
  }
  function ask() {
    var body = new URLSearchParams();
    body.set("csrf_token", form.querySelector("input[name=csrf_token]").value);
    body.set("title", form.querySelector("#title").value);
    body.set("summary", form.querySelector("#summary").value);
    fetch("/partners/tips", {method: "POST", body: body, credentials: "same-origin",
                             headers: {"Accept": "application/json"}})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (tips) {
        if (!tips) { return; }
        show("title", tips.title || []);
        show("summary", tips.summary || []);
      })
      .catch(function () {});
  }
  ["title", "summary"].forEach(function (key) {
    var field = document.getElementById(key);
    if (!field) { return; }
    field.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(ask, 500);
    });
  });
})();

// The newsletter studio's one script: live refresh, the intro's Markdown preview, the subject's count.
// Pages work without it (plain forms); with it, a save anywhere shows without a reload.
(function () {
  "use strict";
  var body = document.body;
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var dirty = new Set();

  function track(root) {
    root.querySelectorAll("form[method=post]").forEach(function (form) {
      form.addEventListener("input", function () { dirty.add(regionOf(form)); });
      form.addEventListener("submit", function () { dirty.delete(regionOf(form)); });
    });
    var intro = root.querySelector("textarea[data-markdown]");
    if (intro) {
      var timer = null;
      intro.addEventListener("input", function () {
        clearTimeout(timer);
        timer = setTimeout(function () { markdown(intro); }, 200);
      });
    }
    root.querySelectorAll("input[data-count]").forEach(function (input) {
      var out = input.form.querySelector(".count");
      input.addEventListener("input", function () {
        var n = input.value.length, max = Number(input.dataset.count);
        out.textContent = n + " characters" + (n > max ? ", over " + max : "");
      });
    });
    root.querySelectorAll("iframe[data-preview]").forEach(function (frame) {
      frame.addEventListener("load", function () {
        body.dataset.shown = frame.dataset.preview;
        window.studioShownAt = Date.now();
      });
    });
  }

  function regionOf(el) {
    var region = el.closest("[data-live]");
    return region ? region.dataset.live : "";
  }

  function markdown(textarea) {
    var data = new URLSearchParams({ value: textarea.value });
    fetch(textarea.dataset.markdown, {
      method: "POST", body: data, credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf, "Content-Type": "application/x-www-form-urlencoded" },
    }).then(function (r) { return r.ok ? r.text() : null; }).then(function (html) {
      if (html !== null) { document.getElementById("intro-preview").innerHTML = html; }
    });
  }

  function banner(text) {
    var el = document.getElementById("banner");
    el.textContent = text;
    el.hidden = !text;
  }

  var busy = false, again = false;
  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    fetch(location.pathname + location.search, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (r) { return r.text(); })
      .then(function (html) {
        if (window.studioTrace) { window.studioTrace.fetched = Date.now(); }
        var next = new DOMParser().parseFromString(html, "text/html");
        var kept = [];
        document.querySelectorAll("[data-live]").forEach(function (region) {
          var fresh = next.querySelector('[data-live="' + region.dataset.live + '"]');
          if (!fresh) { return; }
          if (dirty.has(region.dataset.live)) { kept.push(region.dataset.live); return; }
          var frames = region.querySelectorAll("iframe"), freshFrames = fresh.querySelectorAll("iframe");
          if (region.dataset.live === "preview" && frames.length && frames.length === freshFrames.length) {
            // The same frames, new addresses: load them in place (a new frame costs more than a navigation).
            frames.forEach(function (f, i) {
              var src = freshFrames[i].getAttribute("src");
              if (f.getAttribute("src") !== src) {
                if (f.dataset.preview) { f.dataset.preview = freshFrames[i].dataset.preview; }
                f.setAttribute("src", src);
              }
            });
            var pre = region.querySelector(".text-part pre"), freshPre = fresh.querySelector(".text-part pre");
            if (pre && freshPre) { pre.textContent = freshPre.textContent; }
            var link = region.querySelector(".web-part a"), freshLink = fresh.querySelector(".web-part a");
            if (link && freshLink) { link.setAttribute("href", freshLink.getAttribute("href")); }
            return;
          }
          var open = Array.prototype.map.call(region.querySelectorAll("details"), function (d) { return d.open; });
          region.innerHTML = fresh.innerHTML;
          region.querySelectorAll("details").forEach(function (d, i) { if (open[i]) { d.open = true; } });
          track(region);
        });
        body.dataset.version = next.body.dataset.version;
        if (window.studioTrace) { window.studioTrace.swapped = Date.now(); }
        banner(kept.length ? "The file changed on disk while you were typing. Your unsaved edit is kept on the page; " +
          "saving it is refused until you reload, so that nobody's text is overwritten." : "");
      })
      .catch(function () { banner("The studio does not answer; is it still running?"); })
      .finally(function () { busy = false; if (again) { again = false; refresh(); } });
  }

  track(document);
  if (body.dataset.events && window.EventSource) {
    var source = new EventSource(body.dataset.events);
    source.addEventListener("version", function (event) {
      if (event.data === body.dataset.version) { return; }
      window.studioTrace = { event: Date.now() };  // the benchmark's breakdown (bench/bench_studio.py)
      // A page without live parts (an issue that did not exist yet) is simply loaded again.
      if (document.querySelector("[data-live]")) { refresh(); } else { location.reload(); }
    });
    source.addEventListener("open", function () { banner(""); });
  }
  // The note of the last action stays until the next page: a message that hides itself after a few
  // seconds is gone before a slow reader (or a busy machine's page) has seen it (WCAG 2.2.1).
})();

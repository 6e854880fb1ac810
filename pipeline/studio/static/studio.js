// The newsletter studio's one script: live refresh, saves without a reload, the intro's Markdown
// preview, the subject's count. Pages work without it (plain forms and redirects); with it, a save
// anywhere shows without a reload, and the page's own forms are sent with fetch: the answer (the page
// the form would have gone to) is parsed and its live parts and note swapped in.
(function () {
  "use strict";
  var body = document.body;
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var dirty = new Set();

  // The page's texts in its language, from the template's data-msg-* attributes ({n}: a value).
  function msg(name, values, el) {
    var text = (el || body).dataset["msg" + name] || "";
    Object.keys(values || {}).forEach(function (key) { text = text.split("{" + key + "}").join(values[key]); });
    return text;
  }

  // The send time in words, in the page's language: the date field itself follows the browser's.
  function sendAtWords(input, out) {
    var found = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(input.value);
    if (!found) { out.textContent = msg("None", {}, out); return; }
    var y = Number(found[1]), m = Number(found[2]), d = Number(found[3]);
    var weekday = (new Date(Date.UTC(y, m - 1, d)).getUTCDay() + 6) % 7;  // Monday first, as the lists are
    var time = out.dataset.lang === "nl" ? Number(found[4]) + "." + found[5] + " uur" : found[4] + ":" + found[5];
    var when = out.dataset.weekdays.split(",")[weekday] + " " + d + " " + out.dataset.months.split(",")[m - 1] +
      " " + y + ", " + time;
    out.textContent = msg("Now", { when: when }, out);
  }

  function track(root) {
    root.querySelectorAll("form[method=post]").forEach(function (form) {
      form.addEventListener("input", function () { dirty.add(regionOf(form)); });
      form.addEventListener("submit", function () { dirty.delete(regionOf(form)); });
      if (form.closest("[data-live]")) {
        form.addEventListener("submit", function (event) { save(form, event); });
      }
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
        out.textContent = n > max ? msg("Over", { n: n, max: max }) : msg(n === 1 ? "Char" : "Chars", { n: n });
      });
    });
    var sendAt = root.querySelector("#f-send_at"), now = root.querySelector("#f-send_at-now");
    if (sendAt && now) {
      sendAt.addEventListener("input", function () { sendAtWords(sendAt, now); });
      sendAt.addEventListener("change", function () { sendAtWords(sendAt, now); });
    }
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

  var busy = 0, again = false, latest = null;  // busy: fetches of the page under way

  // Swap the live parts of the page `next` (a parsed studio page) into this one. A part the editor
  // is typing in is kept; `saved` says whether its forms may take the new version (only this page's
  // own save changed the file since). Returns the names of the parts kept.
  function swap(next, saved) {
    var kept = [];
    var version = next.body.dataset.version;
    document.querySelectorAll("[data-live]").forEach(function (region) {
      var fresh = next.querySelector('[data-live="' + region.dataset.live + '"]');
      if (!fresh) { return; }
      if (dirty.has(region.dataset.live)) {
        if (saved) {
          region.querySelectorAll('input[name="version"]').forEach(function (v) { v.value = version; });
        } else {
          kept.push(region.dataset.live);
        }
        return;
      }
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
    body.dataset.version = version;
    return kept;
  }

  function keptBanner(kept) {
    banner(kept.length ? msg("Kept") : "");
  }

  function done() {
    busy -= 1;
    if (!busy && again) {
      again = false;
      if (latest !== body.dataset.version) { refresh(); }
    }
  }

  function refresh() {
    if (busy) { again = true; return; }
    busy += 1;
    fetch(location.pathname + location.search, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (r) { return r.text(); })
      .then(function (html) {
        if (window.studioTrace) { window.studioTrace.fetched = Date.now(); }
        var kept = swap(new DOMParser().parseFromString(html, "text/html"), false);
        if (window.studioTrace) { window.studioTrace.swapped = Date.now(); }
        keptBanner(kept);
      })
      .catch(function () { banner(msg("Gone")); })
      .finally(done);
  }

  // Where the element `el` is found again once its part is swapped: by its id, or (an entry's
  // button) by the entry's item and the button's action, else the entry's first button.
  function spots(el) {
    if (!el || el === body) { return []; }
    if (el.id) { return ["#" + CSS.escape(el.id)]; }
    var li = el.closest("li.entry[data-item]");
    if (!li || !li.dataset.item) { return []; }
    var entry = 'li.entry[data-item="' + CSS.escape(li.dataset.item) + '"] ';
    return el.name === "op" ? [entry + 'button[value="' + CSS.escape(el.value) + '"]:not([disabled])',
      entry + "button:not([disabled])"] : [entry + "button:not([disabled])"];
  }

  function refocus(places) {
    for (var i = 0; i < places.length; i++) {
      var found = document.querySelector(places[i]);
      if (found) { found.focus(); return; }
    }
    var note = document.getElementById("note");
    if (note) { note.focus({ preventScroll: true }); }
  }

  // A form of the page, sent with fetch instead of a navigation. The server answers as it does to the
  // plain form (a redirect to the page with the note), so both ways end in the same page.
  function save(form, event) {
    if (event.defaultPrevented || !window.fetch || !window.DOMParser) { return; }
    event.preventDefault();
    if (form.dataset.sending) { return; }
    var data = new URLSearchParams();
    new FormData(form).forEach(function (value, key) { data.append(key, value); });
    var button = event.submitter;
    if (button && button.name) { data.append(button.name, button.value); }
    var places = spots(button && button.name === "op" ? button : document.activeElement);
    var before = body.dataset.version;
    form.dataset.sending = "1";
    busy += 1;
    window.studioTrace = { event: Date.now(), save: true };  // the benchmark's breakdown
    fetch(form.action, {
      method: "POST", body: data, credentials: "same-origin",
      headers: { Accept: "text/html", "Content-Type": "application/x-www-form-urlencoded" },
    }).then(function (r) {
      return r.text().then(function (html) { return { r: r, html: html }; });
    }).then(function (answer) {
      window.studioTrace.fetched = Date.now();
      var next = new DOMParser().parseFromString(answer.html, "text/html");
      if (!answer.r.ok || !next.querySelector("[data-live]")) {
        var main = next.querySelector("main");
        banner((main ? main.textContent.replace(/\s+/g, " ").trim() : "") ||
          msg("Refused", { status: answer.r.status }));
        return;
      }
      var note = next.getElementById("note");
      var version = next.body.dataset.version;
      var saved = version === before || (note !== null && note.dataset.saved === version);
      var kept = swap(next, saved);
      document.getElementById("note-area").innerHTML = next.getElementById("note-area").innerHTML;
      keptBanner(kept);
      window.studioTrace.swapped = Date.now();
      refocus(places);
    }).catch(function () {
      banner(msg("Gone"));
    }).finally(function () {
      delete form.dataset.sending;
      done();
    });
  }

  track(document);
  if (body.dataset.events && window.EventSource) {
    var source = new EventSource(body.dataset.events);
    source.addEventListener("version", function (event) {
      latest = event.data;
      if (event.data === body.dataset.version) { return; }
      if (busy) { again = true; return; }  // a save or refresh under way: look again once it is done
      window.studioTrace = { event: Date.now() };  // the benchmark's breakdown (bench/bench_studio.py)
      // A page without live parts (an issue that did not exist yet) is simply loaded again.
      if (document.querySelector("[data-live]")) { refresh(); } else { location.reload(); }
    });
    source.addEventListener("open", function () { banner(""); });
  }
  // The note of the last action stays until the next page: a message that hides itself after a few
  // seconds is gone before a slow reader (or a busy machine's page) has seen it (WCAG 2.2.1).
})();

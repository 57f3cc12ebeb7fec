// emailactions studio: live preview, width and part tabs, delete confirmations.
// Everything here is an enhancement: without it, the forms post and the server renders.
"use strict";
(function () {
  function debounce(fn, ms) {
    var timer = null;
    return function () { clearTimeout(timer); timer = setTimeout(fn, ms); };
  }

  function livePreview(form) {
    var target = document.getElementById("preview");
    var url = form.getAttribute("data-preview");
    var seq = 0;
    var refresh = debounce(function () {
      var mine = ++seq;
      var body = new URLSearchParams(new FormData(form));
      body.delete("do");
      fetch(url, {method: "POST", body: body, credentials: "same-origin",
                  headers: {"Content-Type": "application/x-www-form-urlencoded"}})
        .then(function (r) { return r.text().then(function (html) { return {ok: r.ok, status: r.status, html: html}; }); })
        .then(function (answer) {
          if (mine !== seq) return;  // a newer edit is on its way
          if (!answer.ok) {
            var note = document.createElement("p");
            note.className = "error";
            note.id = "preview-error";
            note.textContent = "The preview failed (HTTP " + answer.status + "); reload the page, or log in again.";
            target.replaceChildren(note);
            return;
          }
          var html = answer.html;
          // Server-rendered by Jinja2 with autoescaping: the template's HTML only ever goes to the sandboxed iframe.
          target.innerHTML = html;
          target.setAttribute("data-rendered", String(mine));
        });
    }, 300);
    form.addEventListener("input", refresh);
  }

  function tabs(pane) {
    pane.addEventListener("click", function (event) {
      var tab = event.target.closest("[data-view],[data-part]");
      if (!tab) return;
      event.preventDefault();
      var view = tab.getAttribute("data-view"), part = tab.getAttribute("data-part");
      if (view) { pane.classList.remove("view-desktop", "view-phone"); pane.classList.add("view-" + view); }
      if (part) { pane.classList.remove("part-html", "part-text"); pane.classList.add("part-" + part); }
      pane.querySelectorAll(view ? "[data-view]" : "[data-part]").forEach(function (t) { t.classList.toggle("current", t === tab); });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("draft");
    if (form) livePreview(form);
    var pane = document.getElementById("preview-pane");
    if (pane) tabs(pane);
    document.querySelectorAll("form[data-confirm]").forEach(function (f) {
      f.addEventListener("submit", function (event) {
        if (!window.confirm(f.getAttribute("data-confirm"))) event.preventDefault();
      });
    });
  });
})();

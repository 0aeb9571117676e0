(function () {
  "use strict";
  var root = document.documentElement;
  root.classList.add("js");
  var key = "leadsvc-docs-language";
  function remembered() {
    try { return localStorage.getItem(key); } catch (e) { return null; }
  }
  function remember(lang) {
    try { localStorage.setItem(key, lang); } catch (e) { /* private mode: the choice lasts this visit */ }
  }
  // One language for every operation: a reader who picks Python reads Python.
  function choose(lang) {
    document.querySelectorAll(".samples").forEach(function (box) {
      var pick = box.querySelector('.sample[data-lang="' + lang + '"]') ? lang : box.querySelector(".sample").getAttribute("data-lang");
      box.querySelectorAll(".tab").forEach(function (t) {
        var on = t.getAttribute("data-lang") === pick;
        t.classList.toggle("active", on);
        t.setAttribute("aria-selected", on ? "true" : "false");
      });
      box.querySelectorAll(".sample").forEach(function (s) {
        s.classList.toggle("active", s.getAttribute("data-lang") === pick);
      });
    });
  }
  document.querySelectorAll("pre").forEach(function (pre) {
    var b = document.createElement("button");
    b.type = "button";
    b.className = "copy";
    b.textContent = "Copy";
    b.setAttribute("aria-label", "Copy this code");
    pre.appendChild(b);
  });
  function copied(button, ok) {
    button.textContent = ok ? "Copied" : "Press Ctrl+C";
    setTimeout(function () { button.textContent = "Copy"; }, 1500);
  }
  function copy(button) {
    var code = button.parentNode.querySelector("code");
    var text = code.textContent;
    function bySelection() {
      var range = document.createRange();
      range.selectNodeContents(code);
      var sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
      var ok = false;
      try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
      copied(button, ok);
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { copied(button, true); }, bySelection);
    } else {
      bySelection();
    }
  }
  document.addEventListener("click", function (e) {
    var tab = e.target.closest(".tab");
    if (tab) {
      choose(tab.getAttribute("data-lang"));
      remember(tab.getAttribute("data-lang"));
      return;
    }
    var button = e.target.closest(".copy");
    if (button) {
      copy(button);
    }
  });
  choose(remembered() || "curl");

  var input = document.getElementById("search");
  var status = document.getElementById("search-status");
  if (!input) {
    return;
  }
  function matches(el, q) {
    return el.textContent.toLowerCase().indexOf(q) >= 0;
  }
  input.addEventListener("input", function () {
    var q = input.value.trim().toLowerCase();
    var ops = 0, fields = 0;
    document.querySelectorAll("article.op").forEach(function (a) {
      var hit = !q || matches(a.querySelector(".op-text"), q);
      a.hidden = !hit;
      if (hit) { ops++; }
      var link = document.querySelector('nav.side a[href="#' + a.id + '"]');
      if (link) { link.parentNode.hidden = !hit; }
    });
    document.querySelectorAll("section.ops").forEach(function (s) {
      var any = s.querySelector("article.op:not([hidden])") !== null;
      s.hidden = !any;
      var link = document.querySelector('nav.side a[href="#' + s.id + '"]');
      if (link) { link.parentNode.hidden = !any; }
    });
    var table = document.getElementById("fields");
    (table ? table.querySelectorAll("tbody tr[id]") : []).forEach(function (tr) {
      var hit = !q || matches(tr, q);
      tr.hidden = !hit;
      if (hit) { fields++; }
    });
    status.textContent = q ? ops + " operations and " + fields + " fields match" : "";
  });
})();

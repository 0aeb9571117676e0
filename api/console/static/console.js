// leadsvc console: copy buttons, the condition editor's narrowing of
// operators and values by field type, and small conveniences. Every page
// works without it; the server validates everything again.
(function () {
  "use strict";
  var live = function (msg) {
    var el = document.getElementById("live");
    if (el) { el.textContent = ""; setTimeout(function () { el.textContent = msg; }, 30); }
  };

  function fallbackCopy(text) {
    var ta = document.createElement("textarea");
    ta.value = text; ta.setAttribute("readonly", ""); ta.style.position = "fixed"; ta.style.opacity = "0";
    document.body.appendChild(ta); ta.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    document.body.removeChild(ta);
    return ok;
  }

  function copy(text, button) {
    var done = function () {
      var was = button.getAttribute("data-was") || button.innerHTML;
      button.setAttribute("data-was", was);
      button.setAttribute("data-copied", "true");
      button.textContent = "Copied";
      live("Copied to the clipboard");
      setTimeout(function () { button.innerHTML = was; button.removeAttribute("data-copied"); }, 2000);
    };
    var failed = function () {
      if (fallbackCopy(text)) { done(); return; }
      button.textContent = "Select and copy";
      live("The browser refused to copy; select the text and press Ctrl+C (⌘+C).");
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, failed);
    } else {
      failed();
    }
  }

  document.addEventListener("click", function (ev) {
    var b = ev.target.closest("[data-copy],[data-copy-from]");
    if (!b) { return; }
    ev.preventDefault();
    var text = b.getAttribute("data-copy");
    if (text === null) {
      var src = document.getElementById(b.getAttribute("data-copy-from"));
      text = src ? src.value : "";
      if (src) { src.select(); }
    }
    copy(text, b);
  });

  // slug makes a key or value from a label as the server does
  // (api/console slug and keyFrom): letters spelled in a-z by the form's
  // data-slug-fold table, the rest joined by sep; a key ("_") starts with
  // a letter and has at most 63 characters.
  function slug(label, sep, fold) {
    var s = Array.prototype.map.call(label.toLowerCase(), function (c) { return fold[c] === undefined ? c : fold[c]; }).join("");
    s = s.replace(/[^a-z0-9]+/g, sep);
    while (s.charAt(0) === sep) { s = s.slice(1); }
    while (s.charAt(s.length - 1) === sep) { s = s.slice(0, -1); }
    if (sep === "_") {
      if (s !== "" && !/^[a-z]/.test(s)) { s = "n_" + s; }
      if (s.length > 63) { s = s.slice(0, 63).replace(/_+$/, ""); }
    }
    return s;
  }
  function foldOf(el) {
    var f = el.closest("[data-slug-fold]");
    try { return f ? JSON.parse(f.getAttribute("data-slug-fold")) : {}; } catch (e) { return {}; }
  }

  // A select option's value follows its label until it is typed in.
  document.querySelectorAll("[data-slug-source]").forEach(function (src) {
    var form = src.form, target = form && form.querySelector("[data-slug-target]");
    if (!target) { return; }
    var touched = target.value !== "";
    target.addEventListener("input", function () { touched = target.value !== ""; });
    src.addEventListener("input", function () {
      if (!touched) { target.value = slug(src.value, "-", foldOf(src)); }
    });
  });

  // A key made from a label shows as the key input's placeholder: left
  // empty, the server makes the same; typed in, it is the key.
  document.querySelectorAll("[data-key-source]").forEach(function (src) {
    var scope = src.closest("[data-field-row]") || src.form;
    var target = scope && scope.querySelector("[data-key-target]");
    if (!target) { return; }
    var fold = foldOf(src), sep = target.getAttribute("data-key-target");
    src.addEventListener("input", function () { target.placeholder = slug(src.value, sep, fold); });
  });

  // Likewise line by line: option values and status keys beside their
  // labels.
  document.querySelectorAll("[data-lines-source]").forEach(function (src) {
    var pair = src.closest(".pair"), target = pair && pair.querySelector("[data-lines-target]");
    if (!target) { return; }
    var fold = foldOf(src), sep = target.getAttribute("data-lines-target");
    src.addEventListener("input", function () {
      target.placeholder = src.value.split("\n").map(function (l) { return l.trim(); })
        .filter(function (l) { return l !== ""; }).map(function (l) { return slug(l, sep, fold); }).join("\n");
    });
  });

  // A field row shows the inputs of its type only (options for select
  // lists, the linked campaign for links).
  document.querySelectorAll("[data-field-row]").forEach(function (row) {
    var type = row.querySelector("[data-type]");
    if (!type) { return; }
    var sync = function () {
      row.querySelectorAll("[data-for-type]").forEach(function (el) {
        el.hidden = el.getAttribute("data-for-type").split(" ").indexOf(type.value) < 0 && !el.querySelector("[aria-invalid]");
      });
    };
    type.addEventListener("change", sync);
    sync();
  });

  // The condition editor.
  var metaEl = document.getElementById("filter-meta");
  if (!metaEl) { return; }
  var meta = JSON.parse(metaEl.textContent);
  var refresh = document.querySelector("[data-refresh]");
  if (refresh) { refresh.hidden = true; }

  function sync(row, fieldChanged) {
    var field = row.querySelector("[data-role=field]");
    var op = row.querySelector("[data-role=op]");
    var text = row.querySelector("[data-role=text]");
    var choice = row.querySelector("[data-role=choice]");
    var value = row.querySelector("[data-role=value]");
    var between = row.querySelector("[data-role=between]");
    var label = row.querySelector("[data-role=value-label]");
    var hint = row.querySelector("[data-role=multi-hint]");
    var f = meta.fields[field.value];
    var fits = f ? meta.ops[f.type] : null;
    Array.prototype.forEach.call(op.options, function (o) {
      var ok = !fits || fits.indexOf(o.value) >= 0;
      o.hidden = !ok; o.disabled = !ok;
    });
    if (op.selectedOptions.length === 0 || op.selectedOptions[0].disabled) {
      var first = Array.prototype.find.call(op.options, function (o) { return !o.disabled; });
      if (first) { op.value = first.value; }
    }
    var o = op.value, multiple = o === "in" || o === "not_in";
    value.hidden = o === "empty" || o === "not_empty";
    between.hidden = o !== "between";
    var choices = f && f.choices;
    if (fieldChanged) {
      choice.innerHTML = "";
      (choices || []).forEach(function (c) {
        var opt = document.createElement("option");
        opt.value = c.value; opt.textContent = c.label;
        choice.appendChild(opt);
      });
      text.value = "";
      text.placeholder = (f && f.hint) || "";
    }
    choice.multiple = multiple;
    choice.hidden = choice.disabled = !choices;
    text.hidden = text.disabled = !!choices;
    label.htmlFor = choices ? choice.id : text.id;
    hint.hidden = !multiple;
    hint.textContent = choices ? "Choose one or more (Ctrl or ⌘ + click)." : "Separate values with commas.";
  }

  document.querySelectorAll("[data-condition]").forEach(function (row) {
    row.querySelector("[data-role=field]").addEventListener("change", function () { sync(row, true); });
    row.querySelector("[data-role=op]").addEventListener("change", function () { sync(row, false); });
  });
})();

// Move focus to an error summary so that a screen reader announces it.
document.addEventListener("DOMContentLoaded", function () {
  var s = document.querySelector("[data-focus]");
  if (s) { s.focus(); }
});

// The committee picker: lists committees as the officer types (names without diacritics, the province
// too), from /admin/committees/search. Without this script the field is a plain search form (the "Tìm"
// button). An ARIA 1.2 combobox: arrows move, Enter picks, Escape closes. No third-party code.
(function () {
  "use strict";

  function setup(box) {
    var input = box.querySelector("input[type=search]");
    var hidden = box.querySelector("input[type=hidden]");
    var list = box.querySelector("[role=listbox]");
    var status = box.querySelector("[role=status]");
    if (!input || !list) { return; }
    if (!hidden) {
      // The server listed choices as radio buttons: typing again starts a fresh search with a hidden field.
      hidden = document.createElement("input");
      hidden.type = "hidden";
      hidden.name = box.getAttribute("data-name");
      box.appendChild(hidden);
    }
    box.classList.add("picker-js");
    var scope = box.getAttribute("data-scope");
    var kase = box.getAttribute("data-case") || "";
    var timer = null;
    var active = -1;
    var items = [];
    var asked = "";

    function close() {
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      active = -1;
    }

    function highlight(i) {
      var options = list.querySelectorAll("[role=option]");
      for (var k = 0; k < options.length; k++) {
        options[k].setAttribute("aria-selected", k === i ? "true" : "false");
      }
      active = i;
      if (i >= 0 && options[i]) {
        input.setAttribute("aria-activedescendant", options[i].id);
        options[i].scrollIntoView({ block: "nearest" });
      }
    }

    function choose(i) {
      var item = items[i];
      if (!item) { return; }
      input.value = item.label;
      hidden.value = item.code;
      var radios = box.querySelectorAll("input[type=radio]");
      for (var k = 0; k < radios.length; k++) { radios[k].checked = false; radios[k].disabled = true; }
      close();
      box.classList.remove("picker-invalid");
      input.removeAttribute("aria-invalid");
    }

    function show(found) {
      items = found;
      list.textContent = "";
      for (var i = 0; i < found.length; i++) {
        var li = document.createElement("li");
        li.id = input.id + "-opt-" + i;
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", "false");
        li.setAttribute("data-code", found[i].code);
        li.textContent = found[i].label;
        li.addEventListener("mousedown", (function (k) {
          return function (ev) { ev.preventDefault(); choose(k); };
        })(i));
        list.appendChild(li);
      }
      list.hidden = found.length === 0;
      input.setAttribute("aria-expanded", found.length ? "true" : "false");
      if (status) {
        status.textContent = found.length ? box.getAttribute("data-found").replace("{n}", found.length) : box.getAttribute("data-none");
      }
      highlight(found.length ? 0 : -1);
    }

    function ask() {
      var q = input.value.trim();
      if (q === asked) { return; }
      asked = q;
      if (!q) { show([]); return; }
      var url = "/admin/committees/search?scope=" + encodeURIComponent(scope) + "&case=" + encodeURIComponent(kase) +
        "&q=" + encodeURIComponent(q);
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.ok ? r.json() : []; })
        .then(function (found) { if (input.value.trim() === q) { show(found); } })
        .catch(function () { show([]); });
    }

    input.addEventListener("input", function () {
      hidden.value = "";  // a changed text no longer names the committee picked before
      clearTimeout(timer);
      timer = setTimeout(ask, 150);
    });
    input.addEventListener("keydown", function (ev) {
      if (ev.key === "ArrowDown") {
        ev.preventDefault();
        if (list.hidden) { asked = ""; ask(); } else { highlight(Math.min(active + 1, items.length - 1)); }
      } else if (ev.key === "ArrowUp") {
        ev.preventDefault();
        highlight(Math.max(active - 1, 0));
      } else if (ev.key === "Enter" && !list.hidden && active >= 0) {
        ev.preventDefault();  // picks; a second Enter submits the form
        choose(active);
      } else if (ev.key === "Escape") {
        close();
      }
    });
    input.addEventListener("blur", function () { setTimeout(close, 100); });
  }

  var boxes = document.querySelectorAll("[data-picker]");
  for (var i = 0; i < boxes.length; i++) { setup(boxes[i]); }
})();

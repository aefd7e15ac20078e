// The VHS choice as a combobox (WAI-ARIA APG "Editable Combobox With List Autocomplete")
// over the native <select>, which stays in the form and still works without JavaScript.
// Typing any part of a name filters ("straub" finds "vhs Straubing", "kvhs" finds
// "Kreisvolkshochschule ..."), case folded, umlauts either way ("Muenster", "Munster" and
// "Münster" find "vhs Münster"); arrows move, Enter chooses, Enter or Tab on the only match
// chooses it, Escape closes. Typing into a chosen VHS starts a new search.
(function () {
  "use strict";
  var SHOWN = 60; // matches in the list at once; typing narrows the rest

  // Case, accents and spaces folded; with "spelled", ä ö ü written as ae oe ue as well.
  var fold = function (text, spelled) {
    var folded = text.normalize("NFC").toLowerCase().replace(/ß/g, "ss");
    if (spelled) {
      folded = folded.replace(/ä/g, "ae").replace(/ö/g, "oe").replace(/ü/g, "ue");
    }
    return folded.normalize("NFD").replace(/[\u0300-\u036f]/g, "")
      .replace(/\s+/g, " ").trim();
  };
  // What a name is found by: "vhs münster" and "vhs muenster" (typed text is "spelled").
  var searchKey = function (text) { return fold(text) + "\n" + fold(text, true); };

  document.querySelectorAll("select[data-combobox]").forEach(function (select) {
    var texts = JSON.parse(document.getElementById(select.dataset.combobox).textContent);
    var choices = Array.prototype.slice.call(select.options).filter(function (option) {
      return option.value && !option.dataset.alias;  // a spelled-out twin: folded here anyway
    }).map(function (option) {
      var label = option.dataset.name || option.text;
      return { value: option.value, label: label,
               key: searchKey(label + " " + (option.dataset.aliases || "")) };
    });
    var label = document.querySelector("label[for='" + select.id + "']");
    var input = document.createElement("input");
    var list = document.createElement("ul");
    var status = document.createElement("p");
    var none = document.createElement("p");
    input.type = "text";
    input.id = select.id + "-search";
    input.className = "combobox-input";
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");
    input.setAttribute("aria-controls", select.id + "-list");
    input.setAttribute("autocomplete", "off");
    input.setAttribute("placeholder", texts.placeholder);
    ["aria-invalid", "aria-describedby", "data-missing"].forEach(function (name) {
      if (select.hasAttribute(name)) { input.setAttribute(name, select.getAttribute(name)); }
    });
    list.id = select.id + "-list";
    list.setAttribute("role", "listbox");
    list.setAttribute("aria-label", label ? label.textContent : "VHS");
    list.hidden = true;
    status.className = "visually-hidden";
    status.setAttribute("aria-live", "polite");
    none.className = "combobox-none";
    none.setAttribute("aria-hidden", "true"); // the live status says it to screen readers
    none.textContent = texts.none;
    none.hidden = true;
    select.hidden = true;
    select.dataset.focusInstead = input.id;
    if (label) { label.htmlFor = input.id; }
    select.parentNode.insertBefore(input, select);
    select.parentNode.insertBefore(list, select);
    select.parentNode.insertBefore(none, select);
    select.parentNode.insertBefore(status, select);
    var chosen = function () {
      return choices.filter(function (c) { return c.value === select.value; })[0];
    };
    input.value = chosen() ? chosen().label : "";

    var matches = [];
    var active = -1;
    var show = function (items) {
      matches = items;
      active = -1;
      list.textContent = "";
      items.slice(0, SHOWN).forEach(function (choice, index) {
        var item = document.createElement("li");
        item.id = select.id + "-option-" + index;
        item.setAttribute("role", "option");
        item.setAttribute("aria-selected", "false");
        item.textContent = choice.label;
        item.addEventListener("mousedown", function (event) {
          event.preventDefault();
          take(choice);
        });
        list.appendChild(item);
      });
      if (items.length > SHOWN) {
        var more = document.createElement("li");
        more.className = "more";
        more.setAttribute("aria-hidden", "true");
        more.textContent = texts.more.replace("{n}", items.length - SHOWN);
        list.appendChild(more);
      }
      list.hidden = !items.length;
      none.hidden = !!items.length;
      input.setAttribute("aria-expanded", items.length ? "true" : "false");
      input.removeAttribute("aria-activedescendant");
      status.textContent = items.length ? texts.found.replace("{n}", items.length) : texts.none;
    };
    var close = function () {
      list.hidden = true;
      none.hidden = true;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      active = -1;
    };
    var take = function (choice) {
      select.value = choice.value;
      input.value = choice.label;
      select.dispatchEvent(new Event("change", { bubbles: true }));
      close();
    };
    var move = function (step) {
      var shown = Math.min(matches.length, SHOWN);
      if (!shown) { return; }
      active = (active + step + shown) % shown;
      Array.prototype.forEach.call(list.querySelectorAll("[role=option]"), function (item, i) {
        item.setAttribute("aria-selected", i === active ? "true" : "false");
        if (i === active) {
          input.setAttribute("aria-activedescendant", item.id);
          item.scrollIntoView({ block: "nearest" });
        }
      });
    };
    var filter = function () {
      var wanted = fold(input.value, true);
      show(wanted ? choices.filter(function (c) { return c.key.indexOf(wanted) !== -1; })
                  : choices);
    };

    // The name of the chosen VHS is selected on focus, and the first key typed into it
    // replaces it, so "Bad" after "vhs Musterstadt" searches "Bad".
    input.addEventListener("focus", function () {
      setTimeout(function () { // after the click has placed the caret
        if (select.value && input.value === (chosen() || {}).label) { input.select(); }
      }, 0);
    });
    input.addEventListener("input", function () {
      select.value = "";
      select.dispatchEvent(new Event("change", { bubbles: true }));
      filter();
    });
    input.addEventListener("keydown", function (event) {
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        if (list.hidden) { filter(); }
        move(event.key === "ArrowDown" ? 1 : -1);
      } else if (event.key.length === 1 && !event.ctrlKey && !event.metaKey && !event.altKey
                 && select.value && input.value === (chosen() || {}).label) {
        input.value = "";
      } else if (event.key === "Enter" && !list.hidden && (active >= 0 || matches.length === 1)) {
        event.preventDefault();
        take(matches[Math.max(active, 0)]);
      } else if (event.key === "Escape") {
        if (!list.hidden) { close(); } else { input.value = ""; select.value = ""; }
      }
    });
    input.addEventListener("blur", function () {
      var typed = fold(input.value, true);
      var exact = choices.filter(function (c) { return fold(c.label, true) === typed; })[0];
      var only = !list.hidden && matches.length === 1 ? matches[0] : null; // Tab takes it
      if (exact || only) { take(exact || only); }
      close();
    });
    input.addEventListener("click", function () { if (list.hidden) { filter(); } });
  });
})();

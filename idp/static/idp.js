// Progressive enhancement only: every form works without JavaScript, and the server
// checks everything again.
(function () {
  "use strict";

  // Errors: the summary gets the focus, so a screen reader reads them all at once.
  var summary = document.getElementById("error-summary");
  if (summary) {
    summary.focus();
    summary.addEventListener("click", function (event) {
      var link = event.target.closest("a[href^='#']");
      var target = link && document.getElementById(link.getAttribute("href").slice(1));
      if (target && target.hidden && target.dataset.focusInstead) {
        event.preventDefault();
        document.getElementById(target.dataset.focusInstead).focus();
      }
    });
  }

  // The console's tables on a phone: each row is a block of lines, and each cell carries
  // its column's name ("Sitzungen: 1"), shown by the stylesheet below 40rem.
  document.querySelectorAll(".console-main table").forEach(function (table) {
    var heads = Array.prototype.map.call(table.querySelectorAll("thead th"), function (th) {
      return th.textContent.trim();
    });
    table.querySelectorAll("tbody tr").forEach(function (row) {
      Array.prototype.forEach.call(row.children, function (cell, index) {
        if (heads[index] && !cell.hasAttribute("data-label")) {
          cell.setAttribute("data-label", heads[index]);
        }
      });
    });
  });

  // Show or hide the password (the eye of the help page).
  document.querySelectorAll("button.eye[aria-controls]").forEach(function (button) {
    var field = document.getElementById(button.getAttribute("aria-controls"));
    var showLabel = button.getAttribute("aria-label");
    var hideLabel = button.getAttribute("data-label-hide");
    button.hidden = false;
    button.addEventListener("click", function () {
      var show = field.type === "password";
      field.type = show ? "text" : "password";
      button.setAttribute("aria-pressed", show ? "true" : "false");
      button.setAttribute("aria-label", show ? hideLabel : showLabel);
    });
  });

  // "Abschicken" is usable once a VHS is chosen and an address typed (help page). It
  // stays focusable: pressing it (or Enter) too early says what is missing.
  document.querySelectorAll("form[data-needs]").forEach(function (form) {
    var button = form.querySelector("button[type=submit]");
    var needs = form.getAttribute("data-needs").split(" ").map(function (id) {
      return document.getElementById(id);
    });
    var missing = function () {
      return needs.filter(function (field) { return !field.value.trim(); });
    };
    var update = function () {
      button.setAttribute("aria-disabled", missing().length ? "true" : "false");
    };
    needs.forEach(function (field) {
      field.addEventListener("input", update);
      field.addEventListener("change", update);
    });
    update();
    form.addEventListener("submit", function (event) {
      var absent = missing();
      if (!absent.length) { return; }
      event.preventDefault();
      var status = form.querySelector(".missing");
      status.textContent = absent.map(function (field) {
        return field.getAttribute("data-missing");
      }).join(" ");
      var first = absent[0];
      (first.dataset.focusInstead ? document.getElementById(first.dataset.focusInstead)
                                  : first).focus();
    });
  });

  // A meter that explains a new password: characters still missing, the repetition.
  var password = document.getElementById("password");
  var confirm = document.getElementById("confirm");
  var meter = document.getElementById("meter");
  var texts = document.getElementById("meter-texts");
  if (password && confirm && meter && texts) {
    var minimum = parseInt(password.getAttribute("data-minimum"), 10) || 12;
    var show = function () {
      var left = minimum - password.value.length;
      var parts = [left > 0 ? texts.dataset.short.replace("{n}", left) : texts.dataset.long];
      if (confirm.value) {
        parts.push(confirm.value === password.value ? texts.dataset.same : texts.dataset.differs);
      }
      meter.textContent = parts.join(" ");
    };
    password.addEventListener("input", show);
    confirm.addEventListener("input", show);
  }
})();

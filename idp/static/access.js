// Progressive enhancement only: the server checks everything again.
(function () {
  // "Abschicken" becomes usable once a VHS is chosen and an address typed (help page).
  var form = document.getElementById("address-form");
  if (form) {
    var tenant = document.getElementById("tenant");
    var email = document.getElementById("email");
    var submit = document.getElementById("submit");
    var update = function () { submit.disabled = !(tenant.value && email.value.trim()); };
    tenant.addEventListener("change", update);
    email.addEventListener("input", update);
    update();
  }
  // A meter that explains: how many characters are missing, whether both fields agree.
  var password = document.getElementById("password");
  var confirm = document.getElementById("confirm");
  var meter = document.getElementById("meter");
  var texts = document.getElementById("meter-texts");
  if (password && confirm && meter && texts) {
    var minimum = parseInt(password.getAttribute("data-minimum"), 10) || 12;
    var show = function () {
      var missing = minimum - password.value.length;
      var parts = [missing > 0 ? texts.dataset.short.replace("{n}", missing) : texts.dataset.long];
      if (confirm.value) { parts.push(confirm.value === password.value ? texts.dataset.same : texts.dataset.differs); }
      meter.textContent = parts.join(" ");
    };
    password.addEventListener("input", show);
    confirm.addEventListener("input", show);
  }
})();

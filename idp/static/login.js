// Show/hide the password. Without JavaScript the field simply stays hidden text.
(function () {
  var button = document.getElementById("toggle-password");
  var field = document.getElementById("password");
  if (!button || !field) { return; }
  var showLabel = button.getAttribute("aria-label");
  var hideLabel = button.getAttribute("data-label-hide");
  button.hidden = false;
  button.addEventListener("click", function () {
    var show = field.type === "password";
    field.type = show ? "text" : "password";
    button.setAttribute("aria-pressed", show ? "true" : "false");
    button.setAttribute("aria-label", show ? hideLabel : showLabel);
  });
})();

// WebAuthn for the passkey forms: read the server's options (JSON in the page), ask the
// browser, put its answer (JSON, base64url) into the form's hidden field and send the
// form. The server checks everything; without JavaScript the page says what to do.
(function () {
  "use strict";

  var form = document.getElementById("passkey-form");
  var start = document.getElementById("passkey-start");
  var problem = document.getElementById("passkey-problem");
  if (!form || !start) { return; }
  var options = JSON.parse(document.getElementById("passkey-options").textContent);
  var creating = form.getAttribute("data-passkey") === "create";

  function bytes(value) {
    var text = atob(value.replace(/-/g, "+").replace(/_/g, "/"));
    var out = new Uint8Array(text.length);
    for (var i = 0; i < text.length; i++) { out[i] = text.charCodeAt(i); }
    return out.buffer;
  }
  function text(buffer) {
    var view = new Uint8Array(buffer), out = "";
    for (var i = 0; i < view.length; i++) { out += String.fromCharCode(view[i]); }
    return btoa(out).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function say(kind) {
    problem.textContent = problem.getAttribute("data-" + kind);
    problem.hidden = false;
  }
  function descriptors(list) {
    return (list || []).map(function (item) {
      return { type: item.type, id: bytes(item.id), transports: item.transports };
    });
  }

  start.addEventListener("click", function () {
    problem.hidden = true;
    if (!window.PublicKeyCredential || !navigator.credentials) { say("unsupported"); return; }
    var name = document.getElementById("passkey-name");
    if (creating && name && !name.value.trim()) { say("missing"); name.focus(); return; }
    var publicKey = Object.assign({}, options, { challenge: bytes(options.challenge) });
    var asked;
    if (creating) {
      publicKey.user = Object.assign({}, options.user, { id: bytes(options.user.id) });
      publicKey.excludeCredentials = descriptors(options.excludeCredentials);
      asked = navigator.credentials.create({ publicKey: publicKey });
    } else {
      publicKey.allowCredentials = descriptors(options.allowCredentials);
      asked = navigator.credentials.get({ publicKey: publicKey });
    }
    start.setAttribute("aria-disabled", "true");
    asked.then(function (credential) {
      var response = credential.response, answer = {
        id: credential.id, rawId: text(credential.rawId), type: credential.type,
        clientExtensionResults: credential.getClientExtensionResults(),
        authenticatorAttachment: credential.authenticatorAttachment || undefined,
        response: { clientDataJSON: text(response.clientDataJSON) }
      };
      if (creating) {
        answer.response.attestationObject = text(response.attestationObject);
        if (response.getTransports) { answer.response.transports = response.getTransports(); }
      } else {
        answer.response.authenticatorData = text(response.authenticatorData);
        answer.response.signature = text(response.signature);
        if (response.userHandle) { answer.response.userHandle = text(response.userHandle); }
      }
      document.getElementById("passkey-credential").value = JSON.stringify(answer);
      form.submit();
    }).catch(function () {
      start.setAttribute("aria-disabled", "false");
      say("cancelled");
    });
  });
})();

/* ccbridge signup form: renders the form where this script is included and posts it.
   Everything is built with DOM calls and textContent, never innerHTML, so no text from
   the form definition can become markup on the host page. */
(function () {
  "use strict";
  var C = {{ config }};
  var script = document.currentScript;
  var host = document.querySelector('[data-ccbridge-form="' + C.formId + '"]');
  if (!host) {
    host = document.createElement("div");
    if (script && script.parentNode) { script.parentNode.insertBefore(host, script.nextSibling); }
    else { document.body.appendChild(host); }
  }
  var prefix = "ccb-" + C.formId.slice(0, 8) + "-";
  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text) { node.textContent = text; }
    return node;
  }
  function newKey() {
    if (window.crypto && window.crypto.randomUUID) { return window.crypto.randomUUID(); }
    return Date.now().toString(36) + Math.random().toString(36).slice(2);
  }
  var idempotencyKey = newKey();
  var form = el("form", { "class": "ccbridge-form", novalidate: "novalidate" });
  form.appendChild(el("h2", {}, C.title));
  if (C.intro) { form.appendChild(el("p", {}, C.intro)); }
  var alertBox = el("div", { role: "alert", id: prefix + "alert" });
  form.appendChild(alertBox);
  C.fields.forEach(function (f) {
    var wrap = el("div", { "class": "ccbridge-field" });
    var label = el("label", { "for": prefix + f.name }, f.label + (f.required ? " *" : ""));
    var input = el("input", {
      id: prefix + f.name, name: f.name, type: f.type, autocomplete: f.autocomplete,
      maxlength: String(f.maxLength)
    });
    if (f.required) { input.required = true; input.setAttribute("aria-required", "true"); }
    wrap.appendChild(label); wrap.appendChild(input); form.appendChild(wrap);
  });
  var trap = el("div", { "aria-hidden": "true", style: "position:absolute;left:-10000px;width:1px;height:1px;overflow:hidden" });
  trap.appendChild(el("label", { "for": prefix + C.honeypot }, "Leave this field empty"));
  trap.appendChild(el("input", { id: prefix + C.honeypot, name: C.honeypot, type: "text", tabindex: "-1", autocomplete: "off" }));
  form.appendChild(trap);
  var consent = el("fieldset", {});
  consent.appendChild(el("legend", {}, "Your permission"));
  consent.appendChild(el("p", { id: prefix + "consent-text" }, C.consentText));
  var box = el("input", { id: prefix + "consent", name: "consent", type: "checkbox", value: "yes", "aria-describedby": prefix + "consent-text" });
  box.required = true;
  consent.appendChild(box);
  consent.appendChild(el("label", { "for": prefix + "consent", style: "display:inline" }, "I agree *"));
  form.appendChild(consent);
  var button = el("button", { type: "submit" }, C.submitLabel);
  form.appendChild(button);
  var status = el("p", { role: "status", id: prefix + "status" });
  host.appendChild(form);
  host.appendChild(status);

  function showError(message, field) {
    alertBox.textContent = message;
    Array.prototype.forEach.call(form.querySelectorAll("[aria-invalid]"), function (n) { n.removeAttribute("aria-invalid"); });
    if (field) {
      var bad = form.querySelector('[name="' + field + '"]');
      if (bad) { bad.setAttribute("aria-invalid", "true"); bad.setAttribute("aria-describedby", prefix + "alert"); bad.focus(); }
    }
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (button.disabled) { return; }
    var body = { form_token: C.token, idempotency_key: idempotencyKey, page_url: window.location.href };
    Array.prototype.forEach.call(form.elements, function (n) {
      if (!n.name) { return; }
      if (n.type === "checkbox") { body[n.name] = n.checked; } else { body[n.name] = n.value; }
    });
    button.disabled = true;
    alertBox.textContent = "";
    fetch(C.action, {
      method: "POST",
      mode: "cors",
      credentials: "omit",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (data) {
        if (response.status === 202) {
          if (C.redirect) { window.location.assign(C.redirect); return; }
          form.hidden = true;
          status.textContent = C.thankYou;
          return;
        }
        button.disabled = false;
        var message = (data && data[0] && data[0].error_message) || ("The signup failed (HTTP " + response.status + ").");
        var field = null;
        var match = /^([a-z_]+):/.exec(message);
        if (match) {
          field = match[1];
          C.fields.forEach(function (f) {  // people read the label, not the field's name
            if (f.name === field) { message = f.label + message.slice(field.length); }
          });
        }
        if (response.status === 409 && field === "idempotency_key") { idempotencyKey = newKey(); }
        showError(message, field);
      });
    }).catch(function () {
      button.disabled = false;
      showError("The signup could not be sent. Please check your connection and try again.", null);
    });
  });
})();

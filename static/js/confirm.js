// The job and execution pages' destructive buttons (templates/jobs/_controls.html), progressively
// enhanced: a form with data-confirm="<dialog id>" opens that <dialog>, which says what will happen and
// posts the confirmed form itself. Without this script the button posts and the server answers with a
// confirmation page saying the same. Delegated from the document: htmx swaps the controls in anew.
(function () {
  "use strict";

  function forced(form) {
    var field = form.elements.force;
    if (!field) return false;
    return field.type === "checkbox" ? field.checked : field.value === "on";
  }

  document.addEventListener("submit", function (event) {
    var form = event.target.closest("form[data-confirm]");
    if (!form) return;
    var dialog = document.getElementById(form.dataset.confirm);
    if (!dialog || !dialog.showModal) return;  // no <dialog> support: the server's confirmation page asks
    event.preventDefault();
    var force = forced(form);
    dialog.querySelectorAll("[data-when-force]").forEach(function (part) {
      part.hidden = (part.dataset.whenForce === "true") !== force;
    });
    dialog.querySelector("input[name=force]").value = force ? "on" : "";
    dialog.querySelector("form").action = form.action;
    dialog.opener = form.querySelector("button");
    dialog.showModal();
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest("dialog [data-close]");
    if (button) button.closest("dialog").close();
  });

  // Focus goes back to the button that opened the dialog ("close" does not bubble: caught on the way down).
  document.addEventListener("close", function (event) {
    var dialog = event.target;
    if (dialog.opener && dialog.opener.isConnected) dialog.opener.focus();
  }, true);
})();

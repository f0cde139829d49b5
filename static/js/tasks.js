// The tasks page (templates/tasks/tasks.html), progressively enhanced; without this script the page still
// shows every running time as of its last refresh, and each Cancel button opens a confirmation page.
(function () {
  "use strict";

  // Running times tick each second between polls. Each <time data-running="seconds"> is counted from the
  // moment it arrived, so a throttled background tab does not drift; every poll brings fresh ones.
  function spelled(seconds) {  // as tasks/templatetags/task_times.py writes it
    var m = Math.floor(seconds / 60), h = Math.floor(m / 60), d = Math.floor(h / 24);
    if (d) return d + " d " + (h % 24) + " h";
    if (h) return h + " h " + (m % 60) + " m";
    if (m) return m + " m " + (seconds % 60) + " s";
    return seconds + " s";
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll("time[data-running]").forEach(function (time) {
      if (!time.dataset.since) time.dataset.since = now - Number(time.dataset.running) * 1000;
      var seconds = Math.max(Math.floor((now - Number(time.dataset.since)) / 1000), 0);
      time.textContent = spelled(seconds);
      time.setAttribute("datetime", "PT" + seconds + "S");
    });
  }
  setInterval(tick, 1000);

  // Cancel buttons open the page's <dialog>, whose form posts with htmx and swaps in the running part.
  var dialog = document.getElementById("cancel-dialog");
  if (!dialog || !dialog.showModal) return;
  var form = document.getElementById("cancel-dialog-form");
  document.addEventListener("submit", function (event) {
    var opener = event.target.closest("form.cancel-task");
    if (!opener) return;
    event.preventDefault();
    var button = opener.querySelector("button");
    form.action = opener.action;
    dialog.querySelector('[data-field="task"]').textContent = button.dataset.task;
    dialog.querySelector('[data-field="description"]').textContent = button.dataset.description;
    dialog.returnFocus = button.dataset.task;
    dialog.showModal();
  });
  form.addEventListener("submit", function (event) {
    if (!window.htmx) return;  // htmx did not load: an ordinary POST, answered with a redirect
    event.preventDefault();
    dialog.close();
    htmx.ajax("POST", form.action, { source: form, target: "#running", swap: "innerHTML" });
  });
  dialog.querySelector("[data-close]").addEventListener("click", function () { dialog.close(); });
  dialog.addEventListener("close", function () {  // focus goes back to the button that opened it, if it is still there
    var again = document.querySelector('form.cancel-task button[data-task="' + dialog.returnFocus + '"]');
    if (again) again.focus();
  });
})();

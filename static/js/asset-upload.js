/* The asset upload form, enhanced (templates/assets/_upload.html): a drop zone, and the bundle sent with
 * XMLHttpRequest so that a <progress> bar shows how much of it has gone. The request is the form's own
 * (multipart, with its CSRF field), to the same console view, which answers JSON when asked. Without this
 * script the form posts as it is and the page reports the outcome after a redirect. No dependencies. */
(function () {
  "use strict";

  function megabytes(bytes) {
    return (bytes / (1024 * 1024)).toFixed(1) + " MB";
  }

  function enhance(form) {
    var input = form.querySelector("input[type=file]");
    var zone = form.querySelector("[data-drop-zone]");
    var hint = form.querySelector("[data-drop-hint]");
    var bar = form.querySelector("[data-upload-progress]");
    var progress = bar.querySelector("progress");
    var percent = bar.querySelector("[data-upload-percent]");
    var status = form.querySelector("[data-upload-status]");
    var button = form.querySelector("button");
    var maxBytes = Number(form.dataset.maxBytes);
    var busy = false;

    hint.hidden = false;

    function say(text, level) {
      status.textContent = text;
      status.className = "upload-status " + (level || "");
    }

    function show(sent, total) {
      var share = total ? Math.round((sent / total) * 100) : 100;
      progress.value = share;
      percent.textContent = share + "% (" + megabytes(sent) + " of " + megabytes(total) + ")";
    }

    function refreshList() {
      // The list as the server renders it now, swapped in place of the old one.
      fetch(window.location.href, { headers: { Accept: "text/html" }, credentials: "same-origin" })
        .then(function (response) { return response.text(); })
        .then(function (html) {
          var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("asset-list");
          var list = document.getElementById("asset-list");
          if (fresh && list) list.replaceWith(fresh);
        })
        .catch(function () { /* the list stays as it was; reloading the page shows the new one */ });
    }

    function send() {
      var file = input.files && input.files[0];
      if (busy) return;
      if (!file) { say("Choose a zip file first.", "error"); return; }
      if (file.size > maxBytes) {
        say("Not sent: " + file.name + " is " + megabytes(file.size) + ", more than the " + megabytes(maxBytes) +
            " an asset may have (JOBSITE_ASSET_MAX_BYTES).", "error");
        return;
      }
      var request = new XMLHttpRequest();
      request.open("POST", form.action);
      request.setRequestHeader("Accept", "application/json");
      request.upload.addEventListener("progress", function (event) {
        if (event.lengthComputable) show(event.loaded, event.total);
      });
      request.upload.addEventListener("load", function () {
        show(file.size, file.size);
        say("Sent; checking and storing " + file.name + "…");
      });
      request.addEventListener("load", function () {
        var reply = null;
        try { reply = JSON.parse(request.responseText); } catch (error) { reply = null; }
        if (reply && reply.message) {
          say(reply.message, reply.level);
        } else {
          say("Not stored: the server answered " + request.status + " " + request.statusText + ".", "error");
        }
        if (request.status < 300) { input.value = ""; refreshList(); }
      });
      request.addEventListener("error", function () {
        say("Not stored: the connection failed before the server answered.", "error");
      });
      request.addEventListener("loadend", function () { busy = false; button.disabled = false; });
      busy = true;
      button.disabled = true;
      bar.hidden = false;
      show(0, file.size);
      say("Sending " + file.name + "…");
      request.send(new FormData(form));
    }

    form.addEventListener("submit", function (event) { event.preventDefault(); send(); });
    ["dragenter", "dragover"].forEach(function (name) {
      zone.addEventListener(name, function (event) { event.preventDefault(); zone.classList.add("dragging"); });
    });
    ["dragleave", "drop"].forEach(function (name) {
      zone.addEventListener(name, function () { zone.classList.remove("dragging"); });
    });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      if (event.dataTransfer && event.dataTransfer.files.length) {
        input.files = event.dataTransfer.files;
        send();
      }
    });
  }

  document.querySelectorAll("form[data-asset-upload]").forEach(enhance);
})();

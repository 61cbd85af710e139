// Converter page: drag and drop, upload progress (bytes sent), then the job's
// live status from the API, then a download button. With S3 storage the file
// goes straight to the bucket first (startDirect); multipart to us otherwise. Without JavaScript the
// form is a plain POST that lands on /jobs/<id>, which refreshes itself.
(function () {
  "use strict";
  var form = document.querySelector("[data-convert]");
  if (!form || !window.XMLHttpRequest || !window.FormData || !window.fetch) return;
  var $ = function (sel) { return document.querySelector(sel); };
  var input = form.querySelector("input[type=file]");
  var dropzone = form.querySelector("[data-dropzone]");
  var fileName = form.querySelector("[data-file-name]");
  var panel = $("[data-panel]"), title = $("[data-panel-title]");
  var uploadBar = $("[data-upload-progress]"), uploadText = $("[data-upload-text]");
  var jobBar = $("[data-job-progress]"), jobText = $("[data-job-text]");
  var statusText = $("[data-status-text]"), errorBox = $("[data-error]");
  var doneBox = $("[data-done]"), download = $("[data-download]"), jobLink = $("[data-job-link]");
  var again = $("[data-again]"), serverError = document.getElementById("form-error");
  var meters = $("[data-meters]"), signIn = $("[data-sign-in]"), retrySame = false;
  var HEADINGS = { 400: "Cannot convert this file", 413: "File too large", 415: "Wrong file type",
                   429: "Limit reached", 403: "Not allowed", 503: "Service busy" };

  function human(bytes) {
    var units = ["bytes", "KB", "MB", "GB"], i = 0;
    while (bytes >= 1024 && i < units.length - 1) { bytes /= 1024; i++; }
    return (i ? bytes.toFixed(1) : bytes) + " " + units[i];
  }

  function showFile() {
    var f = input.files && input.files[0];
    fileName.textContent = f ? "Selected: " + f.name + " (" + human(f.size) + ")" : "";
    if (serverError) serverError.hidden = true;
  }

  input.addEventListener("change", showFile);
  ["dragenter", "dragover"].forEach(function (type) {
    dropzone.addEventListener(type, function (e) { e.preventDefault(); dropzone.classList.add("dragging"); });
  });
  ["dragleave", "drop"].forEach(function (type) {
    dropzone.addEventListener(type, function () { dropzone.classList.remove("dragging"); });
  });
  dropzone.addEventListener("drop", function (e) {
    e.preventDefault();
    if (e.dataTransfer && e.dataTransfer.files.length) {
      input.files = e.dataTransfer.files;
      showFile();
    }
  });

  function setBar(bar, text, pct, label) {
    pct = Math.max(0, Math.min(100, Math.round(pct)));
    bar.value = pct;
    text.textContent = label || pct + "%";
  }

  function parse(text) {
    try { return JSON.parse(text); } catch (e) { return null; }
  }

  // What the person can do next, by the kind of refusal: a new file, or the same file again later.
  var NEXT = { 400: "Choose another file", 413: "Choose a smaller file", 415: "Choose another file" };

  function showError(status, body, retryAfter, job) {
    var err = body && body.error;
    var message = (err && err.message) || "The server could not be reached. Check your connection and try again.";
    if (status === 429 && retryAfter && message.indexOf("seconds") === -1 && message.indexOf("min") === -1) {
      message += " Try again in " + retryAfter + " seconds.";
    }
    title.textContent = HEADINGS[status] || "Conversion failed";
    errorBox.textContent = message;
    errorBox.hidden = false;
    statusText.textContent = "";
    download.hidden = true;
    // Refused before any job existed: no progress to show and no job to link to.
    meters.hidden = !job;
    jobLink.hidden = !job;
    retrySame = !job && !NEXT[status];
    again.textContent = job ? "Convert another file" : (NEXT[status] || "Try again");
    again.classList.remove("button-secondary"); // the one way forward, not a second choice
    // Only where the server says signing in lifts the limit (it says so to anonymous callers only).
    signIn.hidden = job || (status !== 413 && status !== 429) || !/sign(ed)?[ -]in/i.test(message) ||
      Boolean(me && me.authenticated);
    signIn.href = "/accounts/login/?next=" + encodeURIComponent(location.pathname);
    doneBox.hidden = false;
    title.focus();
  }

  function finished(body) {
    setBar(jobBar, jobText, 100);
    title.textContent = "Your file is ready";
    statusText.textContent = body.result.filename + " (" + human(body.result.size) + ")";
    download.href = body.result.downloadUrl;
    download.textContent = "Download " + body.result.filename;
    download.hidden = false;
    again.textContent = "Convert another file";
    again.classList.add("button-secondary");
    signIn.hidden = true;
    doneBox.hidden = false;
    download.focus();
  }

  function poll(url, delay, failures) {
    fetch(url, { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } })
      .then(function (r) { return r.json().then(function (b) { return [r.status, b]; }); })
      .then(function (res) {
        var status = res[0], b = res[1];
        if (status !== 200) return showError(status, b, null, true);
        if (b.status === "succeeded") return finished(b);
        if (b.status === "failed" || b.status === "canceled" || b.status === "expired") {
          return showError(0, { error: b.error || { message: "The job was " + b.status + "." } }, null, true);
        }
        title.textContent = b.status === "queued" ? "Waiting for a free worker…" : "Converting…";
        setBar(jobBar, jobText, b.progress, b.status === "queued" ? "queued" : null);
        setTimeout(function () { poll(url, Math.min(delay * 1.4, 2000), 0); }, delay);
      })
      .catch(function () {
        if (failures > 5) return showError(0, null, null, true);
        setTimeout(function () { poll(url, 2000, failures + 1); }, 2000);
      });
  }

  function showPanel() {
    form.hidden = true;
    panel.hidden = false;
    errorBox.hidden = doneBox.hidden = jobLink.hidden = true;
    meters.hidden = false;
    title.textContent = "Uploading…";
    setBar(uploadBar, uploadText, 0);
    setBar(jobBar, jobText, 0, "waiting");
    title.focus();
  }

  function trackUpload(xhr) {
    xhr.upload.onprogress = function (e) {
      if (e.lengthComputable) setBar(uploadBar, uploadText, (e.loaded / e.total) * 100);
    };
    xhr.upload.onload = function () {
      setBar(uploadBar, uploadText, 100);
      title.textContent = "Uploaded; checking the file…";
    };
  }

  function lostConnection() {
    // A server refusing a body mid-upload (too large) may reset the connection before we read its answer.
    var sent = uploadBar.value < 100 ? " The upload stopped at " + uploadBar.value + "%: the file may be over the size limit." : "";
    showError(0, { error: { message: "The connection to the server was lost." + sent + " Try again." } });
  }

  // The form (with the file, or with the uploadId of a file already in the bucket) to our server.
  function submitForm(body, withFile) {
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("Accept", "application/json");
    if (withFile) trackUpload(xhr);
    xhr.onload = function () {
      var body = parse(xhr.responseText);
      if (xhr.status === 202 && body) {
        setBar(uploadBar, uploadText, 100);
        jobLink.href = body.jobUrl;
        jobLink.hidden = false;
        title.textContent = "Waiting for a free worker…";
        poll(body.statusUrl, 150, 0); // small jobs finish in well under a second: look early, then back off
      } else {
        showError(xhr.status, body, xhr.getResponseHeader("Retry-After"));
      }
    };
    xhr.onerror = lostConnection;
    xhr.send(body);
  }

  function start() {
    showPanel();
    if (form.dataset.directUploads && input.files.length === 1) return startDirect(input.files[0]);
    submitForm(new FormData(form), true);
  }

  // With S3 storage the file goes straight to the bucket (a presigned POST whose policy
  // holds the size limit), then the form is sent with its uploadId instead of the file.
  function startDirect(file) {
    var ask = new FormData();
    ask.append("filename", file.name);
    fetch(form.dataset.directUploads, { method: "POST", body: ask, credentials: "same-origin",
                                        headers: { Accept: "application/json" } })
      .then(function (r) {
        return r.text().then(function (t) { return [r.status, parse(t), r.headers.get("Retry-After")]; });
      })
      .then(function (res) {
        if (res[0] !== 201 || !res[1]) return showError(res[0], res[1], res[2]);
        sendToBucket(res[1], file);
      })
      .catch(function () { showError(0, null); });
  }

  function sendToBucket(ticket, file) {
    var data = new FormData();
    Object.keys(ticket.fields).forEach(function (k) { data.append(k, ticket.fields[k]); });
    data.append("file", file); // last: S3 ignores fields after the file
    var xhr = new XMLHttpRequest();
    xhr.open("POST", ticket.url);
    trackUpload(xhr);
    xhr.onload = function () {
      if (xhr.status >= 200 && xhr.status < 300) {
        var body = new FormData(form);
        body.delete("file");
        body.append("uploadId", ticket.uploadId);
        return submitForm(body, false);
      }
      // S3 answers in XML; EntityTooLarge is its policy's size limit.
      var big = /EntityTooLarge/.test(xhr.responseText || "");
      showError(big ? 413 : 0, { error: { message: big
        ? "The file is " + human(file.size) + ", over the size limit. Upload a smaller file."
        : "The upload to storage failed (HTTP " + xhr.status + "). Try again." } });
    };
    xhr.onerror = lostConnection;
    xhr.send(data);
  }

  var me = null;
  if (window.convertAllMe) window.convertAllMe.then(function (m) { me = m; });

  function tooLarge() {
    // Checked here so nobody waits for a big upload the server will refuse (it checks too).
    var limit = me && me.limits && me.limits.maxUploadBytes;
    var total = 0;
    Array.prototype.forEach.call(input.files, function (f) { total += f.size; });
    if (!limit || total <= limit) return false;
    var more = me.authenticated ? "" : " Signed-in users may upload larger files.";
    showError(413, { error: { message: "The file is " + human(total) + "; the limit is " + human(limit) + "." + more } });
    return true;
  }

  form.addEventListener("submit", function (e) {
    if (!input.files || !input.files.length) return; // the browser's "required" message
    e.preventDefault();
    form.hidden = true;
    panel.hidden = false;
    if (!tooLarge()) start();
  });

  again.addEventListener("click", function () {
    // After a refusal that waiting cures (429, 503, a lost connection) the file and options stay chosen.
    if (!retrySame) form.reset();
    retrySame = false;
    showFile();
    panel.hidden = true;
    form.hidden = false;
    again.textContent = "Convert another file";
    input.focus();
  });
})();

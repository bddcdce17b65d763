// chipwatch desk: the batch page polls its job until it finishes; nothing else needs script.
(function () {
  "use strict";
  var box = document.getElementById("job");
  if (!box) { return; }
  var url = box.getAttribute("data-status-url");
  var finished = { done: true, failed: true, interrupted: false };

  function show(job) {
    var bar = document.getElementById("job-progress");
    if (job.rows_total) { bar.max = job.rows_total; }
    bar.value = job.rows_done;
    document.getElementById("job-rows").textContent = job.rows_done;
    document.getElementById("job-status").textContent = job.status_text || job.status;
    box.setAttribute("data-status", job.status);
    if (job.finished_at) { document.getElementById("job-finished").textContent = job.finished_at.replace("T", " ").slice(0, 19) + " UTC"; }
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (job) {
        show(job);
        if (finished[job.status]) {
          // Reload once so the page shows the answers and the report links from the server.
          window.location.reload();
          return;
        }
        window.setTimeout(poll, 700);
      })
      .catch(function () { window.setTimeout(poll, 2000); });
  }

  if (!finished[box.getAttribute("data-status")]) { poll(); }
})();

/* Koppel pages: tabs, the record drawer, live log trimming and following. */
(function () {
  "use strict";
  const LIVE_ROWS = 100;
  document.addEventListener("click", function (e) {
    const tab = e.target.closest(".tab[data-tab]");
    if (tab) {
      e.preventDefault();
      document.querySelectorAll(".tab[data-tab]").forEach(function (t) { t.classList.toggle("active", t === tab); });
      document.querySelectorAll(".tab-panel").forEach(function (p) { p.hidden = p.id !== tab.dataset.tab; });
      return;
    }
    if (e.target.closest(".close-drawer")) {
      const d = document.getElementById("drawer");
      if (d) { d.innerHTML = ""; d.classList.remove("open"); }
    }
  });
  document.addEventListener("keydown", function (e) {
    if (e.key === "Escape") {
      const d = document.getElementById("drawer");
      if (d && d.classList.contains("open")) { d.innerHTML = ""; d.classList.remove("open"); }
    }
  });
  // on a small screen a table shows each row as a card: every cell carries the name of its column
  function labelCells(root) {
    (root || document).querySelectorAll("table.table").forEach(function (table) {
      const names = Array.from(table.querySelectorAll("thead th")).map(function (th) { return th.textContent.trim(); });
      if (!names.length) return;
      table.querySelectorAll("tbody tr").forEach(function (tr) {
        Array.from(tr.children).forEach(function (td, i) {
          if (names[i] && !td.hasAttribute("data-label")) td.setAttribute("data-label", names[i]);
        });
      });
    });
  }
  document.addEventListener("DOMContentLoaded", function () { labelCells(document); });
  document.body && document.body.addEventListener("htmx:afterSwap", function (e) {
    if (e.target.id === "drawer") e.target.classList.add("open");
    labelCells(document);
  });
  document.addEventListener("htmx:sseMessage", function () { labelCells(document); });
  // a request that failed says so instead of doing nothing
  function toast(text) {
    let box = document.getElementById("toast");
    if (!box) {
      box = document.createElement("div");
      box.id = "toast";
      box.className = "toast";
      box.setAttribute("role", "alert");
      document.body.appendChild(box);
    }
    box.textContent = text;
    box.hidden = false;
    clearTimeout(box._timer);
    box._timer = setTimeout(function () { box.hidden = true; }, 8000);
  }
  document.addEventListener("htmx:responseError", function (e) {
    const xhr = e.detail.xhr;
    let text = (document.body.dataset.errorText || "Something went wrong") + " (" + xhr.status + ")";
    const detail = (xhr.responseText || "").replace(/<[^>]*>/g, " ").replace(/\s+/g, " ").trim();
    if (detail && detail.length < 300) text += ": " + detail;
    toast(text);
  });
  document.addEventListener("htmx:sendError", function () {
    toast(document.body.dataset.offlineText || "The server cannot be reached.");
  });
  document.addEventListener("htmx:sseBeforeMessage", function (e) {
    if (e.target.id === "log-rows") {
      const follow = document.getElementById("follow");
      if (follow && !follow.checked) e.preventDefault();
    }
  });
  // when the run has finished: the paged log (with "Older entries") replaces the live rows
  document.addEventListener("htmx:sseClose", function (e) {
    const root = document.getElementById("run-root");
    if (!root || !e.detail || e.detail.type !== "message") return;
    const cancel = document.getElementById("cancel-run");
    if (cancel) cancel.remove();
    const follow = document.getElementById("follow");
    if (follow) follow.closest("label").remove();
    htmx.ajax("GET", window.location.pathname + "/rows", { target: "#log-page", swap: "innerHTML" });
  });
  document.addEventListener("htmx:sseMessage", function (e) {
    if (e.target.id === "log-rows") {
      // one row per record: a record's new row (on top) replaces the row it had
      const seen = new Set();
      e.target.querySelectorAll("tr[id]").forEach(function (row) {
        if (seen.has(row.id)) row.remove();
        else seen.add(row.id);
      });
      const rows = e.target.querySelectorAll("tr");
      for (let i = LIVE_ROWS; i < rows.length; i++) rows[i].remove();
      const empty = document.getElementById("log-empty");
      if (empty) empty.remove();
    }
  });
})();

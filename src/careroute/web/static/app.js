// careroute pages: live refresh from /events/stream, keyboard shortcuts, inline errors.
// No framework: htmx does the partial updates; this file wires the rest.
(function () {
  "use strict";

  var announcer = function (text) {
    var el = document.getElementById("announcer");
    if (!el) return;
    el.textContent = "";
    window.setTimeout(function () { el.textContent = text; }, 50);
  };

  var flash = function (text) {
    var el = document.getElementById("flash");
    if (!el) return;
    el.textContent = text;
    el.hidden = !text;
  };

  // -- live changes -------------------------------------------------------------------------

  // Regions marked data-live-url are re-read when an event they care about arrives:
  // data-live-staff="luis" for one person's events, otherwise any event.
  var regions = function () { return Array.prototype.slice.call(document.querySelectorAll("[data-live-url]")); };

  var busy = function (region) {
    // Never swap a region under someone typing in it or with a form open: offer a refresh instead.
    var active = document.activeElement;
    if (active && region.contains(active) && /^(INPUT|SELECT|TEXTAREA)$/.test(active.tagName)) return true;
    return region.querySelector("details[open]") !== null;
  };

  var taskIds = function (root) {
    var ids = {};
    Array.prototype.forEach.call(root.querySelectorAll("[data-task]"), function (el) { ids[el.dataset.task] = true; });
    return ids;
  };

  var refresh = function (region) {
    var id = region.id;
    if (!id || !window.htmx) return;
    if (busy(region)) {
      var note = region.querySelector(".pending");
      if (note) note.hidden = false;
      return;
    }
    var before = taskIds(region);
    var focusedRow = document.activeElement && document.activeElement.closest ? document.activeElement.closest("[data-task]") : null;
    var focusedId = focusedRow ? focusedRow.id : null;
    region.dataset.liveRefreshing = "1";  // looked at again when the fresh copy arrives (htmx:beforeSwap)
    window.htmx.ajax("GET", region.dataset.liveUrl, { target: "#" + id, swap: "outerHTML" }).then(function () {
      var fresh = document.getElementById(id);
      if (!fresh) return;
      var arrived = [];
      Array.prototype.forEach.call(fresh.querySelectorAll("[data-task]"), function (el) {
        if (!before[el.dataset.task]) { el.classList.add("arrived"); arrived.push(el.dataset.task); }
      });
      if (arrived.length) announcer(arrived.length === 1 ? "Task " + arrived[0] + " arrived" : arrived.length + " tasks arrived");
      if (focusedId && document.getElementById(focusedId)) document.getElementById(focusedId).focus();
    });
  };

  var timers = {};
  var schedule = function (region) {
    // Events come in bursts (created, classified, routed, assigned): read once after the burst.
    window.clearTimeout(timers[region.id]);
    timers[region.id] = window.setTimeout(function () { refresh(region); }, 250);
  };

  var startStream = function () {
    var url = document.body.dataset.events;
    if (!url || !window.EventSource) return;
    var badge = document.getElementById("live-state");
    var source = new EventSource(url);
    source.onopen = function () { if (badge) { badge.hidden = false; badge.textContent = "live"; badge.classList.remove("off"); } };
    source.onerror = function () { if (badge) { badge.hidden = false; badge.textContent = "reconnecting…"; badge.classList.add("off"); } };
    source.onmessage = function (message) {
      var change;
      try { change = JSON.parse(message.data); } catch (e) { return; }
      regions().forEach(function (region) {
        var staff = region.dataset.liveStaff;
        if (staff && change.assignee !== staff && change.actor !== staff && !region.querySelector('[data-task="' + change.task_id + '"]')) return;
        schedule(region);
      });
    };
    window.addEventListener("pagehide", function () { source.close(); });
  };

  // -- keyboard -------------------------------------------------------------------------------

  var rows = function () { return Array.prototype.slice.call(document.querySelectorAll("tr.task[data-task]")); };

  var typing = function (el) {
    return el && (/^(INPUT|SELECT|TEXTAREA)$/.test(el.tagName) || el.isContentEditable);
  };

  var currentRow = function () {
    var active = document.activeElement;
    return active && active.closest ? active.closest("tr.task[data-task]") : null;
  };

  var move = function (step) {
    var all = rows();
    if (!all.length) return;
    var at = all.indexOf(currentRow());
    var next = all[Math.max(0, Math.min(all.length - 1, at < 0 ? 0 : at + step))];
    all.forEach(function (r) { r.classList.remove("selected"); });
    next.classList.add("selected");
    next.focus();
  };

  var press = function (key) {
    var row = currentRow() || rows()[0];
    if (!row) return;
    var button = row.querySelector('[data-key="' + key + '"]');
    if (button) button.click();
  };

  document.addEventListener("keydown", function (e) {
    if (!document.body.hasAttribute("data-shortcuts") || e.ctrlKey || e.metaKey || e.altKey || typing(e.target)) return;
    if (e.key === "j") { move(1); e.preventDefault(); }
    else if (e.key === "k") { move(-1); e.preventDefault(); }
    else if (e.key === "c") { press("c"); e.preventDefault(); }
    else if (e.key === "r") { press("r"); e.preventDefault(); }
    else if (e.key === "n") { var next = document.getElementById("next-task"); if (next) next.click(); e.preventDefault(); }
  });

  // -- htmx -----------------------------------------------------------------------------------

  document.addEventListener("htmx:beforeSwap", function (e) {
    // A form opened while a live refresh was on its way (a reroute begun a moment after a claim)
    // must not be swapped away under the person using it: keep it, and offer the refresh instead.
    var target = e.detail && e.detail.target;
    if (!target || !target.dataset || target.dataset.liveRefreshing !== "1") return;
    delete target.dataset.liveRefreshing;
    if (busy(target)) {
      e.detail.shouldSwap = false;
      var note = target.querySelector(".pending");
      if (note) note.hidden = false;
    }
  });

  document.addEventListener("htmx:beforeRequest", function (e) {
    flash("");
    var row = currentRow();
    document.body.dataset.focusRow = row ? row.id : "";
  });

  document.addEventListener("htmx:afterSettle", function (e) {
    // A swapped row loses focus; give it back to the same task so the keyboard keeps its place.
    var id = document.body.dataset.focusRow;
    var target = e.detail && e.detail.elt;
    var error = target && target.querySelector ? target.querySelector(".error") : null;
    if (error) { announcer(error.textContent); }
    if (id && document.getElementById(id)) {
      var row = document.getElementById(id);
      row.classList.add("selected");
      row.focus();
    }
  });

  document.addEventListener("htmx:responseError", function (e) {
    var text = "careroute could not do that.";
    try { text = JSON.parse(e.detail.xhr.responseText).message || text; } catch (err) { /* not JSON */ }
    flash(text);
  });

  document.addEventListener("htmx:sendError", function () {
    flash("careroute could not be reached. Check the connection and try again.");
  });

  document.addEventListener("DOMContentLoaded", startStream);
})();

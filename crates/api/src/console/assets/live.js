// The console's one script: the orders list follows new and changed
// orders without a reload. The server's feed (/console/orders/live) says
// when something changed; the list is then fetched again as the page
// shows it (same filters) and swapped in. Without this script the page
// works the same, by reloading.
(function () {
  "use strict";
  var live = document.querySelector("[data-live=orders]");
  if (!live || !window.EventSource || !window.fetch) { return; }
  var params = new URLSearchParams(window.location.search);
  if (params.get("after")) { return; } // only the newest page follows
  var feed = new EventSource("/console/orders/live?" + new URLSearchParams({
    store: live.dataset.store || "",
    since: live.dataset.since || ""
  }).toString());
  var busy = false;
  var again = false;
  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    fetch(window.location.href, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").querySelector("[data-live=orders]");
        var current = document.querySelector("[data-live=orders]");
        if (fresh && current) { current.replaceWith(fresh); }
      })
      .catch(function () { /* the next change tries again */ })
      .then(function () {
        busy = false;
        if (again) { again = false; refresh(); }
      });
  }
  feed.addEventListener("changed", refresh);
})();

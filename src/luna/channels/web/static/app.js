// Small page behaviours: on a narrow screen the chore board opens scrolled to today.
(function () {
  "use strict";
  function showToday() {
    const wrap = document.querySelector(".board-wrap");
    const today = wrap && wrap.querySelector("thead th.today");
    if (!today || wrap.scrollWidth <= wrap.clientWidth) return;
    const name = wrap.querySelector("thead th");
    wrap.scrollLeft = Math.max(0, today.offsetLeft - (name ? name.offsetWidth : 0));
  }
  document.addEventListener("DOMContentLoaded", showToday);
  document.addEventListener("htmx:afterSettle", showToday);
  document.addEventListener("luna:refreshed", showToday);
})();

// On a phone the queue's other filters fold under «Thêm bộ lọc» unless one of them is in use, so that
// the cases come first. Without this script they stay open, as on a desktop (where the summary is hidden).
(function () {
  "use strict";
  var more = document.getElementById("more-filters");
  if (!more || !window.matchMedia) { return; }
  var narrow = window.matchMedia("(max-width: 760px)");
  function fit() { more.open = !narrow.matches || more.hasAttribute("data-active"); }
  fit();
  if (narrow.addEventListener) { narrow.addEventListener("change", fit); }
})();

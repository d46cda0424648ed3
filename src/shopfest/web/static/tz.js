// The schedule shows times in the viewer's zone: the browser's, kept in a cookie the server reads.
// On the first visit the page was drawn in another zone (the account's, or UTC): set it and redraw.
(function () {
  "use strict";
  var COOKIE = "shopfest_tz";
  function kept() {
    return document.cookie.split("; ").some(function (c) { return c.indexOf(COOKIE + "=") === 0; });
  }
  if (kept()) return;
  var zone;
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { return; }
  // IANA names are letters, digits and / _ + -: written as they are, as the server reads them.
  if (!zone || zone.length > 64 || !/^[A-Za-z0-9\/_+-]+$/.test(zone)) return;
  document.cookie = COOKIE + "=" + zone + "; path=/; max-age=31536000; samesite=lax";
  var shown = document.querySelector("[data-zone]");
  var asked = new URLSearchParams(location.search).has("tz");
  if (kept() && shown && !asked && shown.getAttribute("data-zone") !== zone) location.reload();
})();

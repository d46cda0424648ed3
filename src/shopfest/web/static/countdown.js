// Every countdown on the page ([data-countdown]), ticking every second: the header's festival
// countdown, and the pages' own (pay by, a balance window, a flash sale).
//
// It counts on the server's festival clock, which need not match this browser's clock (the demo
// starts five minutes before midnight of 11.11 whatever the real date), so each countdown carries the
// server's "now" and the target instant, and this script only adds the time elapsed since it
// loaded. At zero a countdown marked data-reload reloads the page, and the server renders what has
// just begun. Without JavaScript the page still shows the time left when it was rendered.
(function () {
  "use strict";

  var RELOAD_DELAY_MS = 300; // lets the server's clock pass the boundary before we ask again
  var loadedAt = performance.now();
  var reloading = false;

  function pad(n) {
    return n < 10 ? "0" + n : String(n);
  }

  // The same shape the server renders: 00:04:53, or "3d 04:05:06" when a day or more is left.
  function format(ms, daysFormat) {
    var total = Math.max(0, Math.floor(ms / 1000));
    var days = Math.floor(total / 86400);
    var rest = total % 86400;
    var hms = pad(Math.floor(rest / 3600)) + ":" + pad(Math.floor((rest % 3600) / 60)) + ":" + pad(rest % 60);
    return days ? daysFormat.replace("{days}", String(days)) + " " + hms : hms;
  }

  function reload() {
    if (reloading) {
      return;
    }
    reloading = true;
    setTimeout(function () {
      window.location.replace(window.location.href.split("#")[0]);
    }, RELOAD_DELAY_MS);
  }

  function start(el) {
    var target = Number(el.getAttribute("data-target-ms"));
    var serverNow = Number(el.getAttribute("data-now-ms"));
    var speed = Number(el.getAttribute("data-speed") || "1");
    var daysFormat = el.getAttribute("data-days") || "{days}d";
    var reloads = el.hasAttribute("data-reload");
    var clock = el.querySelector(".countdown-clock");
    if (!clock || !isFinite(target) || !isFinite(serverNow) || !isFinite(speed)) {
      return;
    }

    function tick() {
      var left = target - (serverNow + (performance.now() - loadedAt) * speed);
      clock.textContent = format(left, daysFormat);
      if (left <= 0) {
        if (reloads) {
          reload();
        }
        return;
      }
      if (speed <= 0) {
        return; // a clock that stands still never reaches zero
      }
      // Wake when the shown second changes, measured in the browser's time.
      setTimeout(tick, Math.max(50, (left % 1000 || 1000) / speed + 5));
    }

    // A page rendered at or after zero must not reload itself in a loop.
    if (target - serverNow > 0) {
      tick();
    }
  }

  var countdowns = document.querySelectorAll("[data-countdown]");
  for (var i = 0; i < countdowns.length; i++) {
    start(countdowns[i]);
  }
})();

// The header's festival countdown, ticking every second.
//
// It counts on the server's festival clock, which need not match this browser's clock (the demo
// starts five minutes before midnight of 11.11 whatever the real date), so the page carries the
// server's "now" and the target instant, and this script only adds the time elapsed since it
// loaded. At zero it reloads the page, and the server renders the phase that has just begun.
// Without JavaScript the page still shows the time left when it was rendered.
//
// Every [data-countdown] on the page ticks: the header's, and those a page adds (the flash-sale zone).
(function () {
  "use strict";

  var RELOAD_DELAY_MS = 300; // lets the server's clock pass the boundary before we ask again
  var reloading = false;

  function reload() {
    if (reloading) {
      return; // several countdowns reaching zero at once reload the page once
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
    var clock = el.querySelector(".countdown-clock");
    var loadedAt = performance.now();
    if (!clock || !isFinite(target) || !isFinite(serverNow) || !isFinite(speed)) {
      return;
    }

    function festivalNow() {
      return serverNow + (performance.now() - loadedAt) * speed;
    }

    function pad(n) {
      return n < 10 ? "0" + n : String(n);
    }

    // The same shape the server renders: 00:04:53, or "3d 04:05:06" when a day or more is left.
    function format(ms) {
      var total = Math.max(0, Math.floor(ms / 1000));
      var days = Math.floor(total / 86400);
      var rest = total % 86400;
      var hms = pad(Math.floor(rest / 3600)) + ":" + pad(Math.floor((rest % 3600) / 60)) + ":" + pad(rest % 60);
      return days ? daysFormat.replace("{days}", String(days)) + " " + hms : hms;
    }

    function tick() {
      var left = target - festivalNow();
      clock.textContent = format(left);
      if (left <= 0) {
        reload();
        return;
      }
      if (speed <= 0) {
        return; // a clock that stands still never reaches zero
      }
      // Wake when the shown second changes, measured in the browser's time.
      var untilNextSecond = (left % 1000 || 1000) / speed;
      setTimeout(tick, Math.max(50, untilNextSecond + 5));
    }

    // A page rendered at or after zero must not reload itself in a loop.
    if (target - festivalNow() > 0) {
      tick();
    }
  }

  Array.prototype.forEach.call(document.querySelectorAll("[data-countdown]"), start);
})();

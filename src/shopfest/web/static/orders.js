// The shopper's order pages: a payment still with the gateway reloads the page every few seconds
// until it is decided, and the pay-by countdown ticks. Without JavaScript the page has a refresh
// link and shows the time left when it was rendered.
(function () {
  "use strict";

  var poll = document.querySelector("[data-poll-reload]");
  if (poll) {
    var seconds = Number(poll.getAttribute("data-poll-reload")) || 3;
    setTimeout(function () { window.location.reload(); }, seconds * 1000);
  }

  // countdown.js ticks the first [data-countdown] on the page (the header's); these are the others.
  var first = document.querySelector("[data-countdown]");
  var clocks = document.querySelectorAll(".order-countdown[data-countdown]");
  var loadedAt = performance.now();

  function pad(n) { return n < 10 ? "0" + n : String(n); }

  function format(ms, daysFormat) {
    var total = Math.max(0, Math.floor(ms / 1000));
    var days = Math.floor(total / 86400);
    var rest = total % 86400;
    var hms = pad(Math.floor(rest / 3600)) + ":" + pad(Math.floor((rest % 3600) / 60)) + ":" + pad(rest % 60);
    return days ? daysFormat.replace("{days}", String(days)) + " " + hms : hms;
  }

  function start(el) {
    var target = Number(el.getAttribute("data-target-ms"));
    var serverNow = Number(el.getAttribute("data-now-ms"));
    var speed = Number(el.getAttribute("data-speed") || "1");
    var daysFormat = el.getAttribute("data-days") || "{days}d";
    var clock = el.querySelector(".countdown-clock");
    if (!clock || !isFinite(target) || !isFinite(serverNow) || !(speed > 0)) {
      return;
    }
    function tick() {
      var left = target - (serverNow + (performance.now() - loadedAt) * speed);
      clock.textContent = format(left, daysFormat);
      if (left > 0) {
        setTimeout(tick, Math.max(50, (left % 1000 || 1000) / speed + 5));
      }
    }
    tick();
  }

  for (var i = 0; i < clocks.length; i++) {
    if (clocks[i] !== first) {
      start(clocks[i]);
    }
  }
})();

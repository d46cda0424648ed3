// The shopper's order pages: a payment still with the gateway reloads the page every few seconds
// until it is decided (countdown.js ticks the pay-by countdown). Without JavaScript the page has a
// refresh link.
(function () {
  "use strict";

  var poll = document.querySelector("[data-poll-reload]");
  if (poll) {
    var seconds = Number(poll.getAttribute("data-poll-reload")) || 3;
    setTimeout(function () { window.location.reload(); }, seconds * 1000);
  }
})();

// The redeem screen of the shop console.
// Scanning: where the browser has BarcodeDetector, the camera reads a voucher's QR code into the form.
// Offline: the voucher keys are kept from the last visit; with the network down, a code's Ed25519
// signature is checked here (WebCrypto) and the redemption is queued in localStorage, then uploaded
// when the network is back, the server saying which were redeemed and which were conflicts.
(function () {
  "use strict";
  var form = document.querySelector("[data-redeem-form]");
  if (!form) return;
  var KEYS = "shopfest.local.voucher-keys";
  var QUEUE = "shopfest.local.offline-queue";
  var code = form.querySelector("[name=code]");
  var shop = form.querySelector("[name=shop_id]");
  var said = document.querySelector("[data-offline-said]");
  var list = document.querySelector("[data-offline-queue]");

  // --- scanning -------------------------------------------------------------------------------
  var button = document.querySelector("[data-scan-button]");
  var note = document.querySelector("[data-scan-note]");
  var video = document.querySelector("[data-scan-video]");
  if ("BarcodeDetector" in window && navigator.mediaDevices && button) {
    button.hidden = false;
    note.hidden = true;
    button.addEventListener("click", function () {
      var detector = new window.BarcodeDetector({formats: ["qr_code"]});
      navigator.mediaDevices.getUserMedia({video: {facingMode: "environment"}}).then(function (stream) {
        video.srcObject = stream;
        video.hidden = false;
        video.play();
        var look = function () {
          detector.detect(video).then(function (found) {
            if (found.length) {
              code.value = found[0].rawValue;
              stream.getTracks().forEach(function (track) { track.stop(); });
              video.hidden = true;
              form.requestSubmit();
            } else {
              window.setTimeout(look, 250);
            }
          }, function () { window.setTimeout(look, 500); });
        };
        look();
      }, function () { note.hidden = false; });
    });
  }

  // --- offline --------------------------------------------------------------------------------
  function read(name, empty) {
    try { return JSON.parse(window.localStorage.getItem(name)) || empty; } catch (e) { return empty; }
  }
  function write(name, value) { window.localStorage.setItem(name, JSON.stringify(value)); }
  function bytes(base64url) {
    var text = base64url.replace(/-/g, "+").replace(/_/g, "/");
    while (text.length % 4) text += "=";
    var raw = window.atob(text), out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out;
  }
  function say(text) { if (said) said.textContent = text; }
  function show() {
    if (!list) return;
    list.textContent = "";
    read(QUEUE, []).forEach(function (item) {
      var li = document.createElement("li");
      li.textContent = item.redeemed_at + " · " + item.code.slice(0, 24) + "…";
      list.appendChild(li);
    });
  }

  function keepKeys() {
    return fetch("/api/v1/local/voucher-keys", {credentials: "same-origin"}).then(function (answer) {
      return answer.ok ? answer.json() : null;
    }).then(function (body) { if (body) write(KEYS, body); }).catch(function () {});
  }

  // A signed code: PREFIX.payload.signature (base64url); the payload names its key id.
  function verify(text) {
    var keys = read(KEYS, null);
    if (!keys || !window.ShopfestVoucherCode) return Promise.resolve(null);
    return window.ShopfestVoucherCode.verify(text, keys, bytes);
  }

  function queue(text) {
    var items = read(QUEUE, []);
    items.push({code: text, shop_id: Number(shop.value), redeemed_at: new Date().toISOString(),
                client_ref: (window.crypto.randomUUID ? window.crypto.randomUUID() : String(Date.now()))});
    write(QUEUE, items);
    show();
  }

  function upload() {
    var items = read(QUEUE, []);
    if (!items.length || !navigator.onLine) return;
    var byShop = {};
    items.forEach(function (item) { (byShop[item.shop_id] = byShop[item.shop_id] || []).push(item); });
    Object.keys(byShop).forEach(function (shopId) {
      var batch = byShop[shopId].map(function (i) {
        return {code: i.code, redeemed_at: i.redeemed_at, client_ref: i.client_ref};
      });
      fetch("/api/v1/local/redemptions/offline", {
        method: "POST", credentials: "same-origin",
        headers: {"Content-Type": "application/json", "X-CSRF-Token": form.querySelector("[name=csrf_token]").value},
        body: JSON.stringify({shop_id: Number(shopId), items: batch})
      }).then(function (answer) { return answer.ok ? answer.json() : null; }).then(function (report) {
        if (!report) return;
        var done = batch.map(function (i) { return i.client_ref; });
        write(QUEUE, read(QUEUE, []).filter(function (i) { return done.indexOf(i.client_ref) < 0; }));
        var redeemed = (report.redeemed || []).length, conflicts = report.conflicts || [];
        say(form.dataset.uploaded.replace("{redeemed}", redeemed).replace("{conflicts}", conflicts.length));
        conflicts.forEach(function (c) {
          var li = document.createElement("li");
          li.className = "conflict";
          li.textContent = form.dataset.conflict + ": " + (c.message || c.detail || c.client_ref || "");
          list.appendChild(li);
        });
      }).catch(function () {});
    });
  }

  form.addEventListener("submit", function (event) {
    if (navigator.onLine) return;  // online, the form posts as it would without a script
    event.preventDefault();
    var text = code.value.trim();
    verify(text).then(function (good) {
      if (good === null) { say(form.dataset.offlineNoKeys); return; }
      if (!good) { say(form.dataset.offlineBad); return; }
      queue(text);
      code.value = "";
      say(form.dataset.offlineQueued);
    }, function () { say(form.dataset.offlineBad); });
  });
  window.addEventListener("online", upload);
  if (navigator.onLine) { keepKeys(); upload(); }
  show();
})();

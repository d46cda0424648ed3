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
  // The festival's clock may not be the device's (a demo runs it elsewhere): keep the server's "now"
  // as of this page's load, and date queued redemptions on it.
  var skew = Number(form.dataset.nowMs || Date.now()) - Date.now();
  function now() { return Date.now() + skew; }

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

  // A signed code (local/codes.py): "SFV1." + base32 of key id length | key id | merchant id (8 bytes)
  // | last day (4 bytes, days since 1970-01-01) | voucher id length | voucher id | Ed25519 signature
  // (64 bytes) over "SFV1." and every byte before it. Resolves true (good, this merchant's, in date),
  // false (not), or null (no keys kept yet, or no Ed25519 in this browser).
  var PREFIX = "SFV1.";
  function unbase32(text) {
    var alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", bits = 0, value = 0, out = [];
    for (var i = 0; i < text.length; i++) {
      var at = alphabet.indexOf(text.charAt(i));
      if (at < 0) throw new Error("not base32");
      value = (value << 5) | at;
      bits += 5;
      if (bits >= 8) { out.push((value >>> (bits - 8)) & 255); bits -= 8; }
    }
    return new Uint8Array(out);
  }
  // GET /api/v1/local/voucher-keys: {keys: [{kid, public_key}]}
  function keysOf(kept) {
    var found = {};
    (kept.keys || []).forEach(function (k) { found[k.kid] = k.public_key; });
    return found;
  }
  function verify(text) {
    var kept = read(KEYS, null);
    if (!kept || !window.crypto || !window.crypto.subtle) return Promise.resolve(null);
    text = text.trim().toUpperCase();
    if (text.indexOf(PREFIX) !== 0) return Promise.resolve(false);
    var raw;
    try { raw = unbase32(text.slice(PREFIX.length)); } catch (e) { return Promise.resolve(false); }
    if (raw.length <= 64 + 14) return Promise.resolve(false);
    var body = raw.slice(0, raw.length - 64), signature = raw.slice(raw.length - 64);
    var kidLength = body[0], kid = String.fromCharCode.apply(null, body.slice(1, 1 + kidLength));
    var merchant = 0;
    for (var i = 0; i < 8; i++) merchant = merchant * 256 + body[1 + kidLength + i];
    var days = 0;
    for (var j = 0; j < 4; j++) days = days * 256 + body[9 + kidLength + j];
    var key = keysOf(kept)[kid];
    if (!key) return Promise.resolve(false);
    if (String(merchant) !== form.dataset.merchant) return Promise.resolve(false);
    if (days < Math.floor(now() / 86400000)) return Promise.resolve(false);
    var message = new Uint8Array(PREFIX.length + body.length);
    for (var k = 0; k < PREFIX.length; k++) message[k] = PREFIX.charCodeAt(k);
    message.set(body, PREFIX.length);
    return window.crypto.subtle.importKey("raw", bytes(key), {name: "Ed25519"}, false, ["verify"])
      .then(function (publicKey) {
        return window.crypto.subtle.verify({name: "Ed25519"}, publicKey, signature, message);
      }, function () { return null; });
  }

  function queue(text) {
    var items = read(QUEUE, []);
    items.push({code: text, shop_id: Number(shop.value), redeemed_at: new Date(now()).toISOString(),
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
      // Sent as the page's own form (its session and form token), so the page needs no API token.
      var body = new URLSearchParams();
      body.set("csrf_token", form.querySelector("[name=csrf_token]").value);
      body.set("shop_id", shopId);
      body.set("items", JSON.stringify(batch));
      fetch("/seller/local/redemptions/offline", {method: "POST", credentials: "same-origin", body: body
      }).then(function (answer) { return answer.ok ? answer.json() : null; }).then(function (report) {
        if (!report) return;
        var done = batch.map(function (i) { return i.client_ref; });
        write(QUEUE, read(QUEUE, []).filter(function (i) { return done.indexOf(i.client_ref) < 0; }));
        var conflicts = (report.items || []).filter(function (i) { return i.outcome !== "redeemed"; });
        say(form.dataset.uploaded.replace("{redeemed}", report.redeemed)
            .replace("{conflicts}", conflicts.length));
        show();
        conflicts.forEach(function (c) {  // a duplicate or a voucher redeemed meanwhile: never paid twice
          var li = document.createElement("li");
          li.className = "conflict";
          li.textContent = form.dataset.conflict + ": " + (c.detail || c.reason || c.client_ref);
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

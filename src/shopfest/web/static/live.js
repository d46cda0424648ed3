// A live event's pages ([data-live-page]: the room, the host's console, the replay).
//
// The room and the console hold one WebSocket to the room (docs/live.md): every message from the
// server is an array of frames, oldest first; frames to the whole room carry an id, and the last one
// seen is passed back as ?after= on reconnecting (with a growing, jittered delay), so nothing is
// missed and nothing shown twice. The page was rendered by the server first (title, programme,
// poster, the product on show): this script brings it to life, and writes only with the words the
// page gave it (#live-words), in the viewer's language.
//
// The replay seeks its video to a pinned product's moment, and shows the chat up to the video's time.
(function () {
  "use strict";

  var root = document.querySelector("[data-live-page]");
  if (!root) {
    return;
  }
  var page = root.getAttribute("data-live-page");
  var words = JSON.parse(document.getElementById("live-words").textContent || "{}");
  var lang = document.documentElement.lang || "en";
  var video = root.querySelector("[data-live-video]");

  function t(key, values) {
    var text = words[key] || key;
    return text.replace(/\{(\w+)\}/g, function (all, name) {
      return values && values[name] !== undefined ? String(values[name]) : all;
    });
  }

  // An error frame in words: problem.<code> filled from the frame's fields, or its English detail
  // where no words are written or they name a field the frame did not carry (as the pages do).
  function problem(frame) {
    var text = words["problem." + frame.code];
    if (!text) {
      return frame.detail || frame.code;
    }
    var given = Object.assign({}, frame, {detail: frame.detail || ""});
    var missing = false;
    var said = text.replace(/\{(\w+)\}/g, function (all, name) {
      if (given[name] === undefined || given[name] === null) {
        missing = true;
        return all;
      }
      return String(given[name]);
    });
    return missing ? (frame.detail || frame.code) : said;
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      if (name === "text") {
        node.textContent = attrs.text;
      } else {
        node.setAttribute(name, attrs[name]);
      }
    });
    (children || []).forEach(function (child) {
      if (child) {
        node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
      }
    });
    return node;
  }

  function money(value, currency) {
    if (value && typeof value === "object") {
      currency = value.currency || currency;
      value = value.amount;
    }
    var amount = Number(value);
    if (!isFinite(amount) || !currency) {
      return String(value);
    }
    try {
      return new Intl.NumberFormat(lang, {style: "currency", currency: currency}).format(amount);
    } catch (e) {
      return amount.toFixed(2) + " " + currency;
    }
  }

  function newKey() {
    if (window.crypto && window.crypto.randomUUID) {
      return window.crypto.randomUUID();
    }
    return String(Date.now()) + "-" + String(Math.random()).slice(2);
  }

  // --- the video: a file plays itself; HLS natively (Safari) or through hls.js, served by ShopFest ---

  function startVideo() {
    var source = video && video.getAttribute("data-hls-src");
    if (!source) {
      return;
    }
    if (video.canPlayType("application/vnd.apple.mpegurl")) {
      video.src = source;
      return;
    }
    var script = el("script", {src: video.getAttribute("data-hls-script")});
    script.onload = function () {
      if (window.Hls && window.Hls.isSupported()) {
        var hls = new window.Hls({enableWorker: false}); // a blob: worker would meet the page's CSP
        hls.loadSource(source);
        hls.attachMedia(video);
      }
    };
    document.head.appendChild(script);
  }

  // --- the server's clock: coupons and deals end on it, which need not be this browser's ---

  var serverNowMs = Number(root.getAttribute("data-now-ms")) || Date.now();
  var clockSpeed = Number(root.getAttribute("data-speed")) || 1;
  var loadedAt = performance.now();

  function serverNow() {
    return serverNowMs + (performance.now() - loadedAt) * clockSpeed;
  }

  function remaining(ms) {
    var total = Math.max(0, Math.floor(ms / 1000));
    var h = Math.floor(total / 3600);
    var m = Math.floor((total % 3600) / 60);
    var s = total % 60;
    var mmss = (m < 10 ? "0" : "") + m + ":" + (s < 10 ? "0" : "") + s;
    return h ? h + ":" + mmss : mmss;
  }

  // [data-until-ms] elements count down each second, in the words of their data-words key.
  function tick() {
    root.querySelectorAll("[data-until-ms]").forEach(function (node) {
      var left = Number(node.getAttribute("data-until-ms")) - serverNow();
      if (left <= 0) {
        node.textContent = t(node.getAttribute("data-then") || "room.over");
        if (node.hasAttribute("data-then-refresh")) {
          node.removeAttribute("data-until-ms");
          refresh[node.getAttribute("data-then-refresh")]();
        }
        return;
      }
      node.textContent = t(node.getAttribute("data-words"), {time: remaining(left)});
    });
  }

  var refresh = {};

  if (page === "replay") {
    startVideo();
    replay();
    return;
  }

  // --- the room's socket ---

  var eventId = root.getAttribute("data-event-id");
  // Shoppers claim, are priced and buy; merchant staff and operators chat but do not shop here.
  var shops = root.getAttribute("data-shops") === "yes";
  var moderating = page === "console";
  var lastId = null;
  var socket = null;
  var backoffMs = 500;
  var me = {role: "viewer"};
  var status = root.getAttribute("data-status");
  var errorBox = root.querySelector("[data-error]");
  var lostNote = root.querySelector("[data-connection-lost]");

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var url = scheme + location.host + "/api/v1/live/events/" + eventId + "/ws" +
      (lastId ? "?after=" + encodeURIComponent(lastId) : "");
    socket = new WebSocket(url);
    socket.onopen = function () {
      backoffMs = 500;
      lostNote.hidden = true;
    };
    socket.onmessage = function (message) {
      var frames;
      try {
        frames = JSON.parse(message.data);
      } catch (e) {
        return;
      }
      (Array.isArray(frames) ? frames : [frames]).forEach(receive);
    };
    socket.onclose = function (closed) {
      socket = null;
      if (closed.code === 4003 || closed.code === 4004 || closed.code === 4001) {
        return; // banned, no such event, a bad token: coming back would not help
      }
      lostNote.hidden = false;
      var wait = backoffMs + Math.random() * backoffMs;
      backoffMs = Math.min(backoffMs * 2, 15000);
      setTimeout(connect, wait);
    };
  }

  function send(frame) {
    if (!socket || socket.readyState !== WebSocket.OPEN) {
      say(t("room.connection_lost"));
      return false;
    }
    socket.send(JSON.stringify(frame));
    return true;
  }

  function say(text) {
    if (errorBox) {
      errorBox.textContent = text;
    }
  }

  function receive(frame) {
    if (frame.id) {
      lastId = frame.id;
    }
    var handle = on[frame.type];
    if (handle) {
      handle(frame);
    }
  }

  var on = {};

  on.welcome = function (frame) {
    me = frame.you || me;
    if (!frame.resumed) {
      lastId = frame.last_id || lastId;
      var log = root.querySelector("[data-chat]");
      log.textContent = "";
      (frame.chat || []).forEach(function (message) {
        on.chat(Object.assign({type: "chat"}, message));
      });
      (frame.state || []).forEach(function (sticky) {
        var handle = on[sticky.type];
        if (handle) {
          handle(sticky);
        }
      });
      if (frame.reactions) {
        showTotals(frame.reactions.totals || frame.reactions);
      }
    }
    showViewers(frame.viewers);
    chatEmpty();
  };

  on.viewers = function (frame) {
    showViewers(frame.count);
  };

  function showViewers(count) {
    if (typeof count !== "number") {
      return;
    }
    var badge = root.querySelector("[data-viewers]");
    badge.hidden = false;
    badge.textContent = t("room.viewers", {count: count.toLocaleString(lang)});
    var figure = root.querySelector("[data-viewer-count]");
    if (figure) {
      figure.textContent = count.toLocaleString(lang);
    }
  }

  on.status = function (frame) {
    status = frame.status;
    root.setAttribute("data-status", status);
    var badge = root.querySelector("[data-live-status]");
    badge.textContent = t("room.status." + status);
    badge.className = "live-status status-" + status;
    if (status === "ended" && page === "room") {
      var note = root.querySelector("[data-ended-note]");
      if (!note) {
        note = el("p", {"class": "live-note", "data-ended-note": ""}, [
          t("room.ended_note") + " ", el("a", {href: "/live/" + eventId + "/replay", text: t("room.to_replay")})]);
        root.querySelector(".live-head").after(note);
      }
    }
  };

  // --- chat ---

  function chatEmpty() {
    var log = root.querySelector("[data-chat]");
    root.querySelector("[data-chat-empty]").hidden = log.children.length > 0;
  }

  function localTime(at) {
    var when = new Date(at);
    return isNaN(when) ? "" : when.toLocaleTimeString(lang, {hour: "2-digit", minute: "2-digit"});
  }

  on.chat = function (frame) {
    var log = root.querySelector("[data-chat]");
    var author = frame.author || {};
    var role = author.role === "host" || author.role === "moderator" ? " · " + t("room.role." + author.role) : "";
    var item = el("li", {"data-message-id": String(frame.message_id), "data-author-id": String(author.id)}, [
      el("time", {datetime: frame.at || "", text: localTime(frame.at)}), " ",
      el("b", {text: (author.name || "") + role}), " ",
      el("span", {text: frame.text})]);
    if (moderating && author.id !== me.user_id) {
      item.appendChild(el("span", {"class": "moderation"}, [
        moderation("room.hide", {type: "hide", message_id: frame.message_id}),
        moderation("room.mute", {type: "mute", user_id: author.id, seconds: 600}),
        moderation("room.ban", {type: "ban", user_id: author.id})]));
    }
    log.appendChild(item);
    while (log.children.length > 200) {
      log.removeChild(log.firstChild);
    }
    log.scrollTop = log.scrollHeight;
    chatEmpty();
  };

  function moderation(key, frame) {
    var button = el("button", {type: "button", "class": "link", text: t(key)});
    button.addEventListener("click", function () {
      send(frame);
    });
    return button;
  }

  on.hidden = function (frame) {
    (frame.message_ids || []).forEach(function (id) {
      var item = root.querySelector('[data-chat] [data-message-id="' + Number(id) + '"]');
      if (item) {
        item.remove();
      }
    });
    chatEmpty();
  };

  on.slow_mode = function (frame) {
    var shown = root.querySelector("[data-slow-now]");
    if (shown) {
      shown.textContent = frame.seconds ? t("room.slow_now", {seconds: frame.seconds}) : t("room.slow_off");
    }
  };

  function startChat() {
    var form = root.querySelector("[data-chat-form]");
    if (!form) {
      return;
    }
    var input = form.querySelector("input[name=text]");
    var counter = form.querySelector("[data-chat-count]");
    var most = Number(root.getAttribute("data-chat-max")) || 200;
    function count() {
      counter.textContent = t("room.chat_count", {used: Array.from(input.value.trim()).length, most: most});
    }
    input.addEventListener("input", count);
    form.addEventListener("submit", function (submitted) {
      submitted.preventDefault();
      var text = input.value.trim();
      if (text && send({type: "chat", text: text})) {
        input.value = "";
        say("");
        count();
      }
    });
  }

  // --- reactions ---

  function showTotals(totals) {
    Object.keys(totals || {}).forEach(function (kind) {
      var shown = root.querySelector('[data-total="' + kind + '"]');
      if (shown) {
        shown.textContent = Number(totals[kind]).toLocaleString(lang);
      }
    });
  }

  on.reactions = function (frame) {
    showTotals(frame.totals);
  };

  function startReactions() {
    root.querySelectorAll("[data-react]").forEach(function (button) {
      button.addEventListener("click", function () {
        send({type: "react", kind: button.getAttribute("data-react")});
      });
    });
  }

  // --- the pinned product, priced for this shopper, bought and paid without leaving ---

  var pinned = null;
  var buyKey = null;
  var payKey = null;

  on.pinned = function (frame) {
    pinned = frame.product || null;
    buyKey = newKey();
    var nowShown = root.querySelector("[data-pinned-now]");
    if (nowShown) {
      nowShown.textContent = pinned ? t("room.pinned") + ": " + pinned.title : "";
    }
    var card = root.querySelector("[data-pinned]");
    if (!card || !pinned) {
      return;
    }
    card.textContent = "";
    if (pinned.picture) {
      card.appendChild(el("img", {src: pinned.picture, alt: "", "class": "pinned-picture"}));
    }
    card.appendChild(el("p", {"class": "pinned-title"}, [
      el("a", {href: "/products/" + Number(pinned.id), text: pinned.title})]));
    var prices = el("p", {"class": "pinned-price", "data-price": ""}, [money(pinned.price, pinned.currency)]);
    if (String(pinned.list_price) !== String(pinned.price)) {
      prices.appendChild(document.createTextNode(" "));
      prices.appendChild(el("s", {text: t("room.list_price", {price: money(pinned.list_price, pinned.currency)})}));
    }
    card.appendChild(prices);
    card.appendChild(el("p", {"class": "pinned-savings", "data-savings": ""}));
    if (shops && status !== "ended") {
      var buy = el("button", {type: "button", "class": "primary", "data-buy": "", text: t("room.buy")});
      buy.addEventListener("click", function () {
        say("");
        var buying = {type: "buy", sku_id: pinned.sku_id, qty: 1, key: buyKey, ref: "buy"};
        if (inWallet.length) {
          buying.coupons = inWallet.slice(); // the live coupons claimed here, which checkout may apply
        }
        send(buying);
      });
      card.appendChild(buy);
      reprice();
    }
  };

  on.unpinned = function () {
    pinned = null;
    var nowShown = root.querySelector("[data-pinned-now]");
    if (nowShown) {
      nowShown.textContent = "";
    }
    var card = root.querySelector("[data-pinned]");
    if (card) {
      card.textContent = "";
      card.appendChild(el("p", {"class": "empty", text: t("room.nothing_pinned")}));
    }
  };

  on.price = function (frame) {
    var shown = root.querySelector("[data-pinned] [data-price]");
    if (!shown || !pinned || frame.sku_id !== pinned.sku_id) {
      return;
    }
    var currency = frame.currency || pinned.currency;
    shown.textContent = t("room.your_price", {price: money(frame.price, currency)});
    if (String(frame.list_price) !== String(frame.price)) {
      shown.appendChild(document.createTextNode(" "));
      shown.appendChild(el("s", {text: t("room.list_price", {price: money(frame.list_price, currency)})}));
    }
    var savings = root.querySelector("[data-pinned] [data-savings]");
    savings.textContent = (frame.savings || []).map(function (saving) {
      return t("deal." + saving.label) + " −" + money(saving.amount, currency);
    }).join(" · ");
  };

  // The pinned product priced for this shopper again: a deal began, a coupon reached the wallet.
  function reprice() {
    if (pinned && shops && status !== "ended") {
      send({type: "price", sku_id: pinned.sku_id, ref: "price"});
    }
  }

  on.ordered = function (frame) {
    buyKey = newKey(); // the next tap is another order; a retry of this one kept the same key
    payKey = newKey();
    var answer = root.querySelector("[data-order]");
    var toPay = money(frame.to_pay === undefined ? frame.total : frame.to_pay, pinned && pinned.currency);
    answer.textContent = t("room.ordered", {id: frame.order_id, amount: toPay}) + " ";
    var pay = el("button", {type: "button", "class": "primary", "data-pay": "", text: t("room.pay", {amount: toPay})});
    pay.addEventListener("click", function () {
      send({type: "pay", order_id: frame.order_id, method: "sandbox_ok", key: payKey, ref: "pay"});
    });
    answer.appendChild(pay);
  };

  on.paid = function (frame) {
    var answer = root.querySelector("[data-order]");
    answer.textContent = t("room.paid", {id: frame.order_id}) + " ";
    answer.appendChild(el("a", {href: "/account/orders/" + Number(frame.order_id), text: t("room.see_order")}));
  };

  // --- the live coupon and the flash deal ---

  var coupon = null;

  on.coupon_dropped = function (frame) {
    coupon = frame;
    done();
    var box = root.querySelector("[data-coupon]");
    if (!box) {
      return;
    }
    var body = box.querySelector("[data-coupon-body]");
    body.textContent = "";
    var minimum = Number(frame.min_spend) > 0 ? t("room.coupon_min", {amount: money(frame.min_spend, frame.currency)})
      : t("room.coupon_no_min");
    body.appendChild(el("p", {"class": "coupon-value"}, [
      el("strong", {text: t("room.coupon_off", {amount: money(frame.off, frame.currency)})}), " " + minimum]));
    body.appendChild(el("p", {"class": "coupon-left", "data-coupon-left": "",
      text: t("room.coupon_left", {left: frame.quantity})}));
    body.appendChild(el("p", {"class": "live-countdown", "data-until-ms": String(Date.parse(frame.ends_at)),
      "data-words": "room.coupon_ends", "data-then-refresh": "coupon"}));
    if (shops) {
      var claim = el("button", {type: "button", "class": "primary", "data-claim": "", text: t("room.claim")});
      claim.addEventListener("click", function () {
        say("");
        send({type: "claim", coupon_id: frame.coupon_id, ref: "claim"});
      });
      body.appendChild(claim);
    }
    box.hidden = false;
    tick();
  };

  refresh.coupon = function () {
    var claim = root.querySelector("[data-claim]");
    if (claim) {
      claim.disabled = true;
    }
    if (coupon) { // its time is up: checkout would refuse it now
      inWallet = inWallet.filter(function (id) {
        return id !== coupon.coupon_id;
      });
      reprice();
    }
  };

  on.coupon_left = function (frame) {
    var left = root.querySelector("[data-coupon-left]");
    if (left && coupon && frame.coupon_id === coupon.coupon_id) {
      left.textContent = t("room.coupon_left", {left: frame.left});
    }
  };

  var inWallet = [];

  on.claimed = function (frame) {
    inWallet.push(frame.coupon_id);
    reprice();
    var claim = root.querySelector("[data-claim]");
    if (claim && coupon && frame.coupon_id === coupon.coupon_id) {
      claim.replaceWith(el("p", {"class": "in-wallet", "data-in-wallet": ""}, [
        el("a", {href: "/account/wallet", text: t("room.in_wallet")})]));
    }
  };

  var deal = null;

  on.deal = function (frame) {
    deal = frame;
    done();
    var box = root.querySelector("[data-deal]");
    if (!box) {
      return;
    }
    var body = box.querySelector("[data-deal-body]");
    var currency = frame.currency || (pinned && pinned.currency);
    body.textContent = "";
    body.appendChild(el("p", {"class": "deal-price"}, [
      el("strong", {text: t("room.deal_price", {price: money(frame.price, currency)})}), " ",
      el("a", {href: "/products/" + Number(frame.product_id), text: t("room.see_product")})]));
    body.appendChild(el("p", {"class": "deal-left", "data-deal-left": "", text: t("room.deal_left", {left: frame.stock})}));
    if (frame.per_shopper_limit) {
      body.appendChild(el("p", {text: t("room.deal_limit", {limit: frame.per_shopper_limit})}));
    }
    var starts = Date.parse(frame.starts_at);
    var ends = Date.parse(frame.ends_at);
    var counting = el("p", {"class": "live-countdown"});
    if (starts > serverNow()) {
      counting.setAttribute("data-until-ms", String(starts));
      counting.setAttribute("data-words", "room.deal_starts");
      counting.setAttribute("data-then-refresh", "deal");
    } else {
      counting.setAttribute("data-until-ms", String(ends));
      counting.setAttribute("data-words", "room.deal_ends");
    }
    body.appendChild(counting);
    box.hidden = false;
    tick();
    if (pinned && frame.sku_id === pinned.sku_id && starts <= serverNow()) {
      reprice();
    }
  };

  refresh.deal = function () {
    if (deal) {
      on.deal(deal); // the countdown to the start ran out: now count down to the end
    }
  };

  on.deal_stock = function (frame) {
    var left = root.querySelector("[data-deal-left]");
    if (left && deal && frame.flash_sale_id === deal.flash_sale_id) {
      left.textContent = t("room.deal_left", {left: frame.left});
    }
  };

  // --- the host's console ---

  on.sold = function (frame) {
    showSales(frame.orders, frame.units);
  };

  function showSales(orders, units) {
    var shownOrders = root.querySelector("[data-sales-orders]");
    if (shownOrders && typeof orders === "number") {
      shownOrders.textContent = orders.toLocaleString(lang);
      root.querySelector("[data-sales-units]").textContent = Number(units || 0).toLocaleString(lang);
    }
  }

  function done() {
    var note = root.querySelector("[data-done]");
    if (note) {
      note.textContent = t("room.sent");
    }
  }

  function startConsole() {
    root.querySelectorAll("[data-pin]").forEach(function (button) {
      button.addEventListener("click", function () {
        say("");
        send({type: "pin", product_id: Number(button.getAttribute("data-pin")), ref: "pin"});
      });
    });
    var unpin = root.querySelector("[data-unpin]");
    if (unpin) {
      unpin.addEventListener("click", function () {
        send({type: "unpin", ref: "unpin"});
      });
    }
    root.querySelectorAll("form[data-command]").forEach(function (form) {
      form.addEventListener("submit", function (submitted) {
        submitted.preventDefault();
        var frame = {type: form.getAttribute("data-command"), ref: form.getAttribute("data-command")};
        form.querySelectorAll("input[name], select[name]").forEach(function (field) {
          frame[field.name] = field.hasAttribute("data-int") ? Number(field.value) : field.value.trim();
        });
        say("");
        var note = root.querySelector("[data-done]");
        note.textContent = "";
        if (send(frame) && frame.type === "slow_mode") {
          note.textContent = t("room.sent");
        }
      });
    });
    fetch("/api/v1/live/events/" + eventId + "/sales", {credentials: "same-origin",
      headers: {Accept: "application/json"}})
      .then(function (answer) {
        return answer.ok ? answer.json() : null;
      })
      .then(function (sales) {
        var paid = sales && (sales.paid || sales);
        if (paid) {
          showSales(paid.orders, paid.units);
        }
      })
      .catch(function () { /* the figures come with the next `sold` frame */ });
  }

  on.error = function (frame) {
    if (frame.ref === "price") {
      return; // the card keeps the price every viewer sees; this shopper's own is a nicety
    }
    say(problem(frame));
  };

  startVideo();
  startChat();
  startReactions();
  if (moderating) {
    startConsole();
  }
  connect();
  setInterval(tick, 1000);

  // --- the replay: shoppable timestamps, and the chat as it was at the video's time ---

  function replay() {
    var messages = Array.from(root.querySelectorAll("[data-replay-chat] [data-at]"));
    var pins = Array.from(root.querySelectorAll("[data-pin-at]"));
    function upTo() {
      var nowMs = video ? video.currentTime * 1000 : 0;
      messages.forEach(function (item) {
        item.hidden = Number(item.getAttribute("data-at")) > nowMs;
      });
      var current = null;
      pins.forEach(function (pin) {
        if (Number(pin.getAttribute("data-pin-at")) <= nowMs) {
          current = pin;
        }
      });
      pins.forEach(function (pin) {
        pin.classList.toggle("current", pin === current);
      });
    }
    root.querySelectorAll("[data-seek]").forEach(function (button) {
      button.addEventListener("click", function () {
        var at = Number(button.getAttribute("data-seek")) / 1000;
        if (video) {
          video.currentTime = video.duration && isFinite(video.duration) ? Math.min(at, video.duration) : at;
        }
        var pin = button.closest("[data-pin-at]");
        upTo();
        if (pin) {
          pins.forEach(function (other) {
            other.classList.toggle("current", other === pin);
          });
          pin.scrollIntoView({block: "nearest"});
        }
      });
    });
    if (video) {
      video.addEventListener("timeupdate", upTo);
      video.addEventListener("seeked", upTo);
    }
    upTo();
  }
})();

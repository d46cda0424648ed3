// The big screen, kept live: the figures arrive on /screen/events (Server-Sent Events, event
// "figures", id = the figures' version, so the browser resumes with Last-Event-ID after a drop), and
// this script writes them where the server rendered the first ones. The GMV counter climbs to each new
// figure instead of jumping. uPlot draws the orders-per-second line when the page could load it;
// without it the numbers and bars still move.
(function () {
  "use strict";

  var COUNTER_MS = 900; // how long the GMV counter takes to climb to a new figure
  var WINDOW_S = 300; // the line's last five minutes
  var setupNode = document.getElementById("screen-setup");
  if (!setupNode || !window.EventSource) {
    return;
  }
  var setup = JSON.parse(setupNode.textContent);
  var loadedAt = performance.now();
  var scale = Math.pow(10, setup.digits);
  var money = new Intl.NumberFormat(setup.lang, {
    style: "currency", currency: setup.currency,
    minimumFractionDigits: setup.digits, maximumFractionDigits: setup.digits
  });
  var count = new Intl.NumberFormat(setup.lang);
  var gmvNode = document.querySelector("[data-figure=gmv]");
  var shownGmv = Number(gmvNode.getAttribute("data-minor"));
  var climb = null;
  var chart = null;

  function text(selector, value) {
    var node = document.querySelector(selector);
    if (node && node.textContent !== value) {
      node.textContent = value;
    }
  }

  function formatMoney(minor) {
    return money.format(minor / scale);
  }

  function word(key, values) {
    var said = setup.words[key];
    Object.keys(values).forEach(function (name) {
      said = said.replace("{" + name + "}", values[name]);
    });
    return said;
  }

  // The figure fills its panel's width and no more: shrunk when another digit would overflow it.
  function fitGmv() {
    gmvNode.style.fontSize = "";
    var fits = gmvNode.clientWidth / gmvNode.scrollWidth;
    if (fits < 1) {
      gmvNode.style.fontSize = Math.floor(parseFloat(getComputedStyle(gmvNode).fontSize) * fits * 0.97) + "px";
    }
  }

  function showGmv(minor) {
    var said = formatMoney(minor);
    if (said.length !== gmvNode.textContent.length) {
      gmvNode.textContent = said;
      fitGmv();
    } else {
      gmvNode.textContent = said;
    }
  }

  // The counter climbs from what it shows to the new figure, easing out; a refund may lower it.
  function climbTo(target) {
    gmvNode.setAttribute("data-minor", String(target));
    if (climb) {
      cancelAnimationFrame(climb);
    }
    var from = shownGmv;
    var started = performance.now();
    function frame(now) {
      var done = Math.min(1, (now - started) / COUNTER_MS);
      var eased = 1 - Math.pow(1 - done, 3);
      shownGmv = done >= 1 ? target : Math.round(from + (target - from) * eased);
      showGmv(shownGmv);
      climb = done >= 1 ? null : requestAnimationFrame(frame);
    }
    climb = requestAnimationFrame(frame);
  }

  function bars(name, rows) {
    var list = document.querySelector("[data-bars=" + name + "]");
    if (!list) {
      return;
    }
    var longest = rows.reduce(function (most, row) { return Math.max(most, row.gmv_minor); }, 0) || 1;
    var items = rows.map(function (row) {
      var li = document.createElement("li");
      li.setAttribute("data-key", row.key);
      var label = document.createElement("span");
      label.className = "bar-name";
      label.textContent = row.name;
      var amount = document.createElement("span");
      amount.className = "bar-money";
      amount.textContent = formatMoney(row.gmv_minor);
      var bar = document.createElement("span");
      bar.className = "bar w" + 5 * Math.round(20 * Math.max(0, row.gmv_minor) / longest);
      li.append(label, amount, bar);
      return li;
    });
    if (!items.length) {
      var empty = document.createElement("li");
      empty.className = "empty";
      empty.textContent = setup.words.none_yet;
      items.push(empty);
    }
    list.replaceChildren.apply(list, items);
  }

  function tiles(figures) {
    var parts = [
      [figures.luxury, word("orders_n", { n: count.format(figures.luxury.orders) })],
      [figures.debuts, word("units_n", { n: count.format(figures.debuts.units) })],
      [figures.live, word("orders_n", { n: count.format(figures.live.orders) })],
      [figures.local, word("local_n", { payments: count.format(figures.local.payments),
                                        redemptions: count.format(figures.local.redemptions) })]
    ];
    parts.forEach(function (part, i) {
      text("[data-tile='" + i + "'] .tile-money", formatMoney(part[0].gmv_minor));
      text("[data-tile='" + i + "'] .tile-count", part[1]);
    });
  }

  // The server's festival clock, which need not be this browser's (the demo runs on 11.11's eve).
  function serverSecond() {
    var clock = document.querySelector("[data-countdown]");
    if (!clock) {
      return Math.floor(Date.now() / 1000);
    }
    var now = Number(clock.getAttribute("data-now-ms"));
    var speed = Number(clock.getAttribute("data-speed") || "1");
    return Math.floor((now + (performance.now() - loadedAt) * speed) / 1000);
  }

  // Seconds without sales are absent from the series: the line shows them as zero.
  function lineData(series) {
    var last = series.length ? series[series.length - 1][0] : 0;
    var end = Math.max(serverSecond() - 1, last);
    var bySecond = {};
    series.forEach(function (point) { bySecond[point[0]] = point[1]; });
    var xs = [];
    var ys = [];
    for (var s = end - WINDOW_S + 1; s <= end; s++) {
      xs.push(s);
      ys.push(bySecond[s] || 0);
    }
    return [xs, ys];
  }

  function draw(series) {
    var box = document.getElementById("per-second-chart");
    if (!box || !window.uPlot || !series.length && !chart) {
      return;
    }
    var data = lineData(series);
    if (chart) {
      chart.setData(data);
      return;
    }
    var grid = { stroke: "#2a2a3d", width: 1 };
    var axis = { stroke: "#9c98b0", grid: grid, ticks: grid, font: "16px system-ui" };
    var clockTime = function (u, splits) {
      return splits.map(function (s) { return new Date(s * 1000).toTimeString().slice(0, 8); });
    };
    chart = new window.uPlot({
      width: box.clientWidth, height: Math.max(240, box.clientHeight),
      legend: { show: false }, cursor: { show: false },
      scales: { y: { range: function (u, min, max) { return [0, Math.max(5, max * 1.15)]; } } },
      axes: [Object.assign({}, axis, { values: clockTime, space: 110 }), Object.assign({}, axis, { size: 70 })],
      series: [{}, { stroke: "#ff3d5a", width: 3, fill: "rgba(255, 61, 90, 0.18)", points: { show: false } }]
    }, data, box);
    window.addEventListener("resize", function () {
      chart.setSize({ width: box.clientWidth, height: Math.max(240, box.clientHeight) });
    });
  }

  function show(figures) {
    if (figures.gmv_minor !== Number(gmvNode.getAttribute("data-minor"))) {
      climbTo(figures.gmv_minor);
    }
    text("[data-figure=orders]", count.format(figures.orders));
    text("[data-figure=shoppers]", count.format(figures.shoppers));
    text("[data-figure=per-now]", count.format(figures.per_second.now));
    text("[data-figure=per-peak]", count.format(figures.per_second.peak));
    bars("countries", figures.countries);
    bars("brands", figures.brands);
    bars("categories", figures.categories);
    tiles(figures);
    draw(figures.per_second.series);
  }

  function state(name) {
    var node = document.querySelector(".link-state");
    if (node && node.getAttribute("data-state") !== name) {
      node.setAttribute("data-state", name);
      node.textContent = node.getAttribute("data-" + name) || "";
    }
  }

  function listen() {
    var source = new EventSource(setup.events);
    source.addEventListener("figures", function (event) {
      state("live");
      show(JSON.parse(event.data));
    });
    // The browser reconnects by itself (with Last-Event-ID) while the state is CONNECTING; a refusal
    // (a revoked link) closes the source for good.
    source.onerror = function () {
      state("reconnecting");
    };
  }

  window.addEventListener("load", function () {
    fitGmv();
    draw(setup.figures.per_second.series);
    listen();
    window.addEventListener("resize", fitGmv);
  });
})();

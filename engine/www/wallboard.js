/* The wallboard's behaviour (docs/http.md#the-wallboard).
 *
 * One EventSource on /api/v1/events: the engine sends a snapshot of every
 * queue and of the agents by state each second (event "snapshot", JSON in
 * its data line). Each snapshot replaces what the page shows; the page
 * keeps nothing but the chart's history of the last CHART_SECONDS, which
 * starts empty when the page loads (the engine keeps no history).
 *
 * Service level colours, per queue with a configured target of P percent
 * (service_level.percent), once the queue has answered or abandoned a
 * contact:  green  SL >= P
 *           amber  P - AMBER_POINTS <= SL < P
 *           red    SL < P - AMBER_POINTS
 * A queue without a target, or with nothing answered or abandoned yet,
 * stays grey. Queue names are put in with textContent, never as HTML.
 */
(function () {
"use strict";

var AMBER_POINTS = 10;          /* percentage points below the target */
var CHART_SECONDS = 300;
var STALE_MS = 5000;            /* no snapshot for this long: greyed out */
var RETRY_CLOSED_MS = 10000;    /* after an answer that was not a stream */

var points = [];                /* the chart: {t, waiting, available} */
var lastAt = 0;

function $(id) { return document.getElementById(id); }

function fmtWait(ms) {
  var s = Math.floor(ms / 1000);
  if (s < 60) return s + "s";
  var m = Math.floor(s / 60);
  s = s % 60;
  if (m < 60) return m + ":" + (s < 10 ? "0" : "") + s;
  return Math.floor(m / 60) + "h" + (m % 60 < 10 ? "0" : "") + (m % 60);
}

/* "green", "amber", "red" or "none" (see the top of this file) */
function slClass(q) {
  var t = q.service_level_target;
  if (!t || t.percent === null || t.percent === undefined) return "none";
  if (q.answered + q.abandoned === 0) return "none";
  var sl = q.service_level * 100;
  if (sl >= t.percent) return "green";
  if (sl >= t.percent - AMBER_POINTS) return "amber";
  return "red";
}

function fig(cls, label) {
  var d = document.createElement("div");
  d.className = "fig " + cls;
  var b = document.createElement("b");
  b.setAttribute("data-field", cls);
  var s = document.createElement("span");
  s.textContent = label;
  d.appendChild(b);
  d.appendChild(s);
  return d;
}

function makeTile(name) {
  var t = document.createElement("article");
  t.className = "tile sl-none";
  t.setAttribute("data-queue", name);
  var h = document.createElement("h2");
  h.textContent = name;
  t.appendChild(h);
  t.appendChild(fig("waiting", "waiting"));
  t.appendChild(fig("longest", "longest wait"));
  t.appendChild(fig("sl", "service level"));
  var f = document.createElement("div");
  f.className = "foot";
  f.innerHTML = '<span class="unservable" data-field="unservable"></span> ' +
    '<span data-field="target"></span> \u00b7 <span data-field="detail"></span>';
  t.appendChild(f);
  return t;
}

function setField(tile, field, text) {
  var e = tile.querySelector('[data-field="' + field + '"]');
  if (e.textContent !== text) e.textContent = text;
  return e;
}

function renderQueues(queues) {
  var box = $("queues");
  var seen = {};
  var tiles = box.querySelectorAll(".tile");
  var byName = {};
  for (var i = 0; i < tiles.length; i++)
    byName[tiles[i].getAttribute("data-queue")] = tiles[i];
  for (var j = 0; j < queues.length; j++) {
    var q = queues[j];
    var tile = byName[q.name];
    if (!tile) {
      tile = makeTile(q.name);
    }
    box.appendChild(tile);       /* keeps the engine's order */
    seen[q.name] = true;
    var c = slClass(q);
    tile.className = "tile sl-" + c;
    tile.setAttribute("data-sl", c);
    setField(tile, "waiting", String(q.waiting));
    setField(tile, "longest", q.waiting ? fmtWait(q.longest_wait_ms) : "\u2013");
    setField(tile, "sl", q.answered + q.abandoned === 0 ? "\u2013"
             : Math.round(q.service_level * 100) + "%");
    var u = setField(tile, "unservable", q.unservable + " unservable");
    u.setAttribute("data-count", String(q.unservable));
    var t = q.service_level_target;
    setField(tile, "target", t && t.percent !== null && t.percent !== undefined
             ? "target " + t.percent + "% in " + t.seconds + "s" : "no target");
    setField(tile, "detail", "answered " + q.answered + " \u00b7 abandoned " +
             q.abandoned + " \u00b7 free agents " + q.agents_available);
  }
  for (var n in byName)
    if (!seen[n]) box.removeChild(byName[n]);
}

function renderAgents(a) {
  var els = document.querySelectorAll("[data-agents]");
  for (var i = 0; i < els.length; i++) {
    var k = els[i].getAttribute("data-agents");
    els[i].textContent = String(a[k] || 0);
  }
}

function drawChart() {
  var cv = $("chart");
  var dpr = window.devicePixelRatio || 1;
  var w = Math.max(1, Math.floor(cv.clientWidth * dpr));
  var h = Math.max(1, Math.floor(cv.clientHeight * dpr));
  if (cv.width !== w) cv.width = w;
  if (cv.height !== h) cv.height = h;
  var g = cv.getContext("2d");
  g.clearRect(0, 0, w, h);
  if (!points.length) return;
  var now = points[points.length - 1].t;
  var max = 1;
  for (var i = 0; i < points.length; i++)
    max = Math.max(max, points[i].waiting, points[i].available);
  var pad = 28 * dpr;
  g.font = (14 * dpr) + "px sans-serif";
  g.fillStyle = "#8a97a8";
  g.strokeStyle = "#2c3644";
  g.lineWidth = 1;
  for (var k = 0; k <= 2; k++) {            /* 0, max/2, max */
    var y = h - pad / 2 - (h - pad) * k / 2;
    g.beginPath(); g.moveTo(pad, y); g.lineTo(w, y); g.stroke();
    g.fillText(String(Math.round(max * k / 2)), 0, y + 5 * dpr);
  }
  function line(key, colour) {
    g.strokeStyle = colour;
    g.lineWidth = 3 * dpr;
    g.beginPath();
    for (var i = 0; i < points.length; i++) {
      var p = points[i];
      var x = pad + (w - pad) * (1 - (now - p.t) / (CHART_SECONDS * 1000));
      var y = h - pad / 2 - (h - pad) * p[key] / max;
      if (i) g.lineTo(x, y); else g.moveTo(x, y);
    }
    g.stroke();
  }
  line("available", "#5fd68f");
  line("waiting", "#ff9f43");
}

function render(s) {
  lastAt = Date.now();
  document.body.setAttribute("data-state", "live");
  document.body.setAttribute("data-seq", String(s.seq));
  $("contacts-waiting").textContent = String(s.contacts_waiting);
  $("agents-logged-in").textContent = String(s.agents_logged_in);
  renderQueues(s.queues);
  renderAgents(s.agents);
  points.push({ t: s.time_ms, waiting: s.contacts_waiting,
                 available: s.agents.available || 0 });
  while (points.length && s.time_ms - points[0].t > CHART_SECONDS * 1000)
    points.shift();
  drawChart();
  $("status").textContent = (s.ready ? "live " : "NOT READY ") +
    new Date(s.time_ms).toLocaleTimeString();
}

function stale(why) {
  document.body.setAttribute("data-state", "stale");
  $("status").textContent = why;
}

function connect() {
  var es = new EventSource("api/v1/events");
  es.addEventListener("snapshot", function (ev) {
    try {
      render(JSON.parse(ev.data));
    } catch (e) {
      stale("bad snapshot: " + e.message);
    }
  });
  es.onerror = function () {
    /* a broken connection: EventSource reconnects by itself (after the
     * stream's retry:); an answer that is no stream (503: too many
     * streams, 401: no token) closes it for good, so try again later --
     * nobody is there to reload a wallboard */
    if (es.readyState === EventSource.CLOSED) {
      stale("no stream (too many, or no access) \u2013 retrying in " +
            RETRY_CLOSED_MS / 1000 + "s");
      setTimeout(connect, RETRY_CLOSED_MS);
    } else {
      stale("connection lost \u2013 reconnecting");
    }
  };
}

function start() {
  $("chart-minutes").textContent = String(CHART_SECONDS / 60);
  connect();
  setInterval(function () {
    if (lastAt && Date.now() - lastAt > STALE_MS)
      stale("no data for " + Math.round((Date.now() - lastAt) / 1000) + "s");
  }, 1000);
  window.addEventListener("resize", drawChart);
}

start();
})();

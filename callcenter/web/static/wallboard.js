// The wallboard: one WebSocket (/wallboard/ws) sends the whole board on connect and on
// every change; waits are counted up locally from the oldest queued time between updates.
(function () {
  "use strict";
  var board = null;
  var $ = function (id) { return document.getElementById(id); };
  var STATES = [["ready", "就绪 Ready"], ["ringing", "振铃 Ringing"], ["on_call", "通话 On call"],
                ["hold", "保持 Hold"], ["wrap_up", "整理 Wrap-up"], ["not_ready", "暂停 Not ready"]];

  function secs(s) {
    if (s === null || s === undefined) { return "–"; }
    s = Math.max(0, Math.round(s));
    return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
  }
  function pct(x) { return x === null || x === undefined ? "–" : (100 * x).toFixed(1) + " %"; }
  function text(el, value) { el.textContent = String(value); }
  function waitOf(q, now) {
    return q.oldest_queued_at ? (now - Date.parse(q.oldest_queued_at)) / 1000 : 0;
  }

  function draw() {
    if (!board) { return; }
    var now = Date.now() + (board._skew || 0);
    text($("waiting"), board.waiting);
    var longest = 0;
    var body = $("queues").tBodies[0];
    body.textContent = "";
    board.queues.forEach(function (q) {
      var w = waitOf(q, now);
      longest = Math.max(longest, w);
      var tr = body.insertRow();
      text(tr.insertCell(), q.queue);
      text(tr.insertCell(), q.waiting);
      text(tr.insertCell(), secs(w));
    });
    text($("longest"), board.waiting ? secs(longest) : "–");
    var t = board.today || {};
    text($("offered"), t.offered === undefined ? 0 : t.offered);
    text($("answered"), t.answered === undefined ? 0 : t.answered);
    text($("abandoned"), t.abandoned === undefined ? 0 : t.abandoned);
    text($("sl-label"), "服务水平 " + (t.service_level_label || "SL"));
    text($("sl"), pct(t.service_level));
    text($("asa"), secs(t.asa_s));
    text($("aht"), secs(t.aht_s));
    var agents = $("agents").tBodies[0];
    agents.textContent = "";
    STATES.forEach(function (pair) {
      var tr = agents.insertRow();
      tr.dataset.state = pair[0];
      text(tr.insertCell(), pair[1]);
      text(tr.insertCell(), board.agents[pair[0]] || 0);
    });
    var reasons = Object.keys(board.not_ready_by_reason || {}).map(function (r) {
      return r + " " + board.not_ready_by_reason[r];
    });
    text($("reasons"), reasons.length ? "暂停原因 reasons: " + reasons.join(" · ") : "");
    text($("as-of"), board.as_of ? new Date(board.as_of).toLocaleTimeString() : "");
  }

  function connect() {
    var proto = location.protocol === "https:" ? "wss://" : "ws://";
    var ws = new WebSocket(proto + location.host + "/wallboard/ws");
    ws.onopen = function () { text($("conn"), "live"); $("conn").dataset.live = "1"; };
    ws.onmessage = function (e) {
      var msg = JSON.parse(e.data);
      if (msg.type !== "wallboard") { return; }
      board = msg;
      if (msg.as_of) { board._skew = Date.parse(msg.as_of) - Date.now(); }
      draw();
    };
    ws.onclose = function () {
      text($("conn"), "reconnecting…"); $("conn").dataset.live = "";
      setTimeout(connect, 2000);
    };
  }
  setInterval(draw, 1000);
  connect();
}());

// The agent page: status, screen-pop over the WebSocket, the customer card, the wrap-up.
// Everything from the server is put in the page with textContent (never innerHTML).
"use strict";
(function () {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const $ = (id) => document.getElementById(id);
  let offer = null;       // the offer on screen
  let ws = null;
  let retry = 500;

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") node.className = v; else node.setAttribute(k, v);
    }
    for (const c of children) {
      if (c === null || c === undefined) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  async function api(method, path, body) {
    const res = await fetch(path, {
      method, credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf, "Accept": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    const data = text ? JSON.parse(text) : null;
    if (!res.ok) {
      const fields = (data && data.errors || []).map((e) => e.field + ": " + e.message).join("; ");
      throw new Error((data && data.error || res.statusText) + (fields ? " — " + fields : ""));
    }
    return data;
  }

  const STATUS = { ready: "就绪 Ready", not_ready: "未就绪 Not ready", ringing: "振铃 Ringing",
                   on_call: "通话中 On call", hold: "保持 On hold", wrap_up: "小结 Wrap-up",
                   logged_out: "已退出 Logged out" };
  function setStatus(status) {
    const badge = $("status");
    badge.dataset.status = status;
    badge.textContent = STATUS[status] || status;
    badge.className = "badge " + (status === "ready" ? "ok" : status === "not_ready" ? "" : "bad");
    // the Hold button follows the recorded state: on Twilio the hold is the carrier's event
    $("hold").dataset.on = status === "hold" ? "1" : "0";
    $("hold").textContent = status === "hold" ? "恢复 Resume" : "保持 Hold";
  }

  function fmt(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    return d.toLocaleString("zh-CN", { hour12: false });
  }

  function table(headers, rows) {
    if (!rows.length) return el("p", { class: "muted" }, "无 none");
    return el("table", {}, el("thead", {}, el("tr", {}, ...headers.map((h) => el("th", {}, h)))),
      el("tbody", {}, ...rows.map((r) => el("tr", {}, ...r.map((c) => el("td", {}, c ?? ""))))));
  }

  function renderCard(card) {
    const box = $("card");
    box.replaceChildren();
    if (!card) return;
    const c = card.customer;
    const head = el("div", { class: "who" },
      el("span", { class: "name", "data-testid": "customer-name" }, c.name || (c.phones.length ? "未知来电 Unknown caller" : "未识别来电 Unidentified caller (number withheld)")),
      el("span", { class: "badge" }, c.value_grade),
      ...card.vip.map((v) => el("span", { class: "badge major" }, "VIP " + v.replace("vip_", ""))),
      c.do_not_call ? el("span", { class: "badge bad" }, "勿扰 do not call") : null);
    box.append(head);
    box.append(el("p", { class: "muted" },
      [c.company, c.title, c.address].filter(Boolean).join(" · "),
      " ", c.phones.map((p) => p.e164).join(", ")));
    if (card.unknown_caller) box.append(unknownCaller(c));
    if (card.open_complaints.length) {
      box.append(el("h3", { class: "alert" }, "未结投诉 Open complaints (" + card.open_complaints.length + ")"));
      box.append(table(["单号 Ticket", "类别 Category", "状态 State", "负责人 Owner", "时间 Opened"],
        card.open_complaints.map((x) => [x.ticket + (x.major ? " ⚠" : ""), x.category, x.state, x.owner, fmt(x.opened_at)])));
    }
    box.append(el("h3", {}, "联系记录 Contact history"));
    box.append(table(["时间 When", "类型 Kind", "IVR", "结果 Outcome", "坐席 Staff", "备注 Notes"],
      card.contacts.map((x) => [fmt(x.at), x.kind, x.ivr_path, x.disposition || x.call_outcome, x.staff, x.notes || x.summary])));
    box.append(el("h3", {}, "服务单 Service jobs"));
    box.append(table(["单号 Ref", "技师 Technician", "完成 Completed", "内容 Description"],
      card.jobs.map((x) => [x.reference, x.technician, fmt(x.completed_at), x.description])));
    if (card.leads.length) {
      box.append(el("h3", {}, "销售线索 Leads"));
      box.append(table(["需求 Need", "程度 Level", "状态 State", "跟进 Follow-up"],
        card.leads.map((x) => [x.need, x.demand_level, x.state, x.assigned_to])));
    }
    if (card.surveys.length) {
      box.append(el("h3", {}, "满意度 Surveys"));
      box.append(table(["时间 When", "及时 Timeliness", "质量 Quality", "态度 Attitude", "核实 Verified"],
        card.surveys.map((x) => [fmt(x.surveyed_at), x.timeliness, x.quality, x.attitude, x.verification])));
    }
  }

  function unknownCaller(c) {
    const name = el("input", { name: "new_name", placeholder: "客户姓名 Customer name", maxlength: "200" });
    const save = el("button", { type: "button" }, "建档 Create customer");
    const q = el("input", { name: "link_query", placeholder: "姓名/电话 name or number", maxlength: "100" });
    const find = el("button", { type: "button", class: "secondary" }, "查找 Find");
    const found = el("div", {});
    const msg = el("span", { role: "status" });
    save.onclick = async () => {
      try { await api("PATCH", "/api/customers/" + c.customer_id, { name: name.value }); await reloadCard(c.customer_id); }
      catch (e) { msg.textContent = e.message; }
    };
    find.onclick = async () => {
      try {
        const list = await api("GET", "/api/customers?q=" + encodeURIComponent(q.value));
        found.replaceChildren(...list.filter((x) => x.verified).map((x) => {
          const b = el("button", { type: "button", class: "secondary" }, "关联 Link → " + x.name);
          b.onclick = async () => {
            await api("POST", "/api/customers/" + x.customer_id + "/merge", { source_customer_id: c.customer_id });
            if (offer) offer.customer_id = x.customer_id;
            await reloadCard(x.customer_id);
            await loadUnidentified();
          };
          return b;
        }));
      } catch (e) { msg.textContent = e.message; }
    };
    return el("div", { class: "unknown" }, el("p", {}, "陌生号码：建档或关联已有客户 Unknown number: create or link the customer"),
      el("div", { class: "row" }, name, save), el("div", { class: "row" }, q, find), found, msg);
  }

  // Unidentified caller records (withheld or unreadable numbers): open one to link or name it.
  async function loadUnidentified() {
    const box = $("unidentified-list");
    try {
      const list = await api("GET", "/api/customers/unidentified?limit=20");
      box.replaceChildren(table(["编号 Record", ""], list.map((c) => {
        const open = el("button", { type: "button", class: "secondary", "data-testid": "open-unidentified" },
          "打开 Open");
        open.onclick = async () => {
          $("idle").hidden = true; $("pop").hidden = false;
          await reloadCard(c.customer_id);
        };
        return ["未识别来电 #" + c.customer_id, open];
      })));
    } catch (e) { box.textContent = e.message; }
  }

  async function reloadCard(customerId) {
    const card = await api("GET", "/api/customers/" + customerId + "/card");
    renderCard(card);
  }

  function showOffer(o) {
    offer = o;
    if (!o) {
      $("pop").hidden = true; $("wrap").hidden = true; $("idle").hidden = false;
      return;
    }
    $("idle").hidden = true; $("pop").hidden = false; $("wrap").hidden = false;
    $("caller").textContent = o.caller_number || "—";
    $("why").textContent = o.ivr_label || o.ivr_path || "—";
    $("queue").textContent = o.queue || "—";
    $("phase").textContent = { ringing: "振铃 Ringing", answered: "通话中 On call", ended: "已挂机 Ended" }[o.phase] || o.phase || "";
    $("loading").hidden = !o.loading;
    if (o.restricted) {
      $("card").replaceChildren(el("p", {}, (o.customer_name || "") + " — 其他部门客户 another department's customer"));
    } else if (o.withheld) {
      $("card").replaceChildren(el("p", {}, "未显示号码 Number withheld: search the customer by hand"));
    } else {
      renderCard(o.card);
    }
    $("wrap-result").textContent = "";
  }

  function onMessage(msg) {
    switch (msg.type) {
      case "state": setStatus(msg.status); showOffer(msg.offer); break;
      case "offer": setStatus("ringing"); showOffer(msg); break;
      case "card":
        if (offer && offer.offer_id === msg.offer_id) showOffer(Object.assign({}, offer, msg, { type: "offer" }));
        break;
      case "answered": setStatus(msg.status);
        if (offer && offer.carrier_call_id === msg.carrier_call_id) { offer.phase = "answered"; showOffer(offer); }
        break;
      case "ended": setStatus(msg.status);
        if (offer && offer.carrier_call_id === msg.carrier_call_id) { offer.phase = "ended"; showOffer(offer); }
        break;
      case "cleared": setStatus(msg.status); showOffer(null); break;
      case "status": setStatus(msg.status); break;
      default: break;
    }
  }

  function connect() {
    ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/agent/ws");
    ws.onopen = () => { retry = 500; $("link").textContent = "在线 Online"; $("link").className = "badge ok"; document.body.dataset.socket = "open"; };
    ws.onmessage = (ev) => onMessage(JSON.parse(ev.data));
    ws.onclose = () => {
      $("link").textContent = "离线 Offline"; $("link").className = "badge bad"; document.body.dataset.socket = "closed";
      setTimeout(connect, retry); retry = Math.min(retry * 2, 10000);
    };
  }

  async function setReady(status) {
    try { const s = await api("POST", "/api/agent/status", { status }); setStatus(s.status); }
    catch (e) { alert(e.message); }
  }
  $("ready").onclick = () => setReady("ready");
  $("not-ready").onclick = () => setReady("not_ready");
  $("hold").onclick = async () => {  // hold / resume the call I am talking on
    const on = $("hold").dataset.on !== "1";
    let state = null;
    try { state = await api("POST", "/api/agent/hold", { on }); } catch (err) { alert(err.message); }
    if (state && state.status) setStatus(state.status);
  };

  $("transfer").onsubmit = async (ev) => {  // hand my caller on to another queue (Twilio)
    ev.preventDefault();
    const queue = new FormData(ev.target).get("queue");
    try {
      const state = await api("POST", "/api/agent/transfer", { queue });
      ev.target.reset();
      if (state && state.status) setStatus(state.status);
    } catch (err) { alert(err.message); }
  };

  async function loadStaff() {
    const list = await api("GET", "/api/staff?limit=500");
    const select = document.querySelector('select[name="follow_up_staff_id"]');
    select.replaceChildren(...list.map((s) => el("option", { value: String(s.staff_id) }, s.name)));
  }

  $("wrapup").onsubmit = async (ev) => {
    ev.preventDefault();
    if (!offer || !offer.customer_id) { $("wrap-result").textContent = "没有客户 no customer on screen"; return; }
    const f = new FormData(ev.target);
    const body = {
      customer_id: offer.customer_id, disposition: f.get("disposition"),
      notes: f.get("notes") || null, subject: f.get("subject") || null,
    };
    if (offer.call_id) body.call_id = offer.call_id;
    else { body.carrier = offer.carrier; body.carrier_call_id = offer.carrier_call_id; }
    if (f.get("has_complaint")) body.complaint = { category: f.get("complaint_category"),
      description: f.get("complaint_description"), emotional: !!f.get("complaint_emotional") };
    if (f.get("has_need")) body.latent_need = { need: f.get("need"), demand_level: Number(f.get("demand_level")),
      follow_up_staff_id: Number(f.get("follow_up_staff_id")), equipment: f.get("equipment") || null };
    try {
      const r = await api("POST", "/api/wrap-up", body);
      ev.target.reset();
      $("wrap-result").textContent = "已保存 Saved (contact " + r.contact_id + (r.lead_id ? ", lead " + r.lead_id : "") +
        (r.complaint_ticket ? ", complaint " + r.complaint_ticket : "") + ")";
      document.body.dataset.saved = String(r.contact_id);
    } catch (e) { $("wrap-result").textContent = "未保存 Not saved: " + e.message; }
  };

  loadStaff().catch(() => {});
  connect();
  loadUnidentified();
})();

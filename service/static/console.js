// The reviewer console: sign in, the queue, one case side by side, decisions.
// Plain JS, no build step. The session is an HttpOnly cookie; every unsafe request also
// sends the CSRF token in X-CSRF-Token (docs/api.md).
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);
  let csrf = null;
  let me = null; // {username, role}

  // ---- HTTP ------------------------------------------------------------------------------
  class ApiError extends Error {
    constructor(status, code, detail) {
      super(detail || code || "HTTP " + status);
      this.status = status;
      this.code = code;
    }
  }

  function cookie(name) {
    const hit = document.cookie.split("; ").find((c) => c.startsWith(name + "="));
    return hit ? decodeURIComponent(hit.slice(name.length + 1)) : null;
  }

  async function api(method, path, body) {
    const headers = { Accept: "application/json" };
    // The CSRF cookie is the fallback when /v1/auth/me has not answered yet.
    if (UNSAFE.has(method)) headers["X-CSRF-Token"] = csrf || cookie("proofing_csrf") || "";
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const r = await fetch(path, {
      method, headers, credentials: "same-origin", cache: "no-store",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (r.status === 401 && document.body.dataset.page !== "login") {
      location.assign("/console/login");
      throw new ApiError(401, "unauthenticated", "Please sign in again.");
    }
    if (r.status === 204) return null;
    const data = await r.json().catch(() => null);
    if (!r.ok) {
      let detail = data && data.detail;
      if (Array.isArray(detail)) detail = detail.map((d) => d.msg || JSON.stringify(d)).join("; ");
      throw new ApiError(r.status, data && data.error, detail);
    }
    return data;
  }

  const el = (tag, props, ...children) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else if (k.startsWith("data-") || k.startsWith("aria-") || k === "scope" || k === "href" || k === "colspan") e.setAttribute(k, v);
      else e[k] = v;
    }
    for (const c of children) if (c !== null && c !== undefined) e.append(c);
    return e;
  };

  function showError(err) {
    const box = $("error") || $("login-error");
    if (!err) {
      box.hidden = true;
      return;
    }
    console.error(err);
    let text = err.message || String(err);
    if (err.status === 403) text = "Not allowed: " + text;
    if (err.status === 409) text = "Not possible now: " + text;
    if (err.status === 429) text = "Too many requests; wait a moment and try again.";
    if (err instanceof TypeError) text = "No connection to the server.";
    box.textContent = text;
    box.hidden = false;
  }

  function announce(text) {
    const s = $("status");
    s.textContent = text;
    s.hidden = !text;
  }

  // ---- formatting ------------------------------------------------------------------------
  const rtf = new Intl.RelativeTimeFormat("en", { numeric: "auto" });

  function relative(date) {
    const minutes = Math.round((date - Date.now()) / 60000);
    if (Math.abs(minutes) < 60) return rtf.format(minutes, "minute");
    const hours = Math.round(minutes / 60);
    if (Math.abs(hours) < 48) return rtf.format(hours, "hour");
    return rtf.format(Math.round(hours / 24), "day");
  }

  function when(iso) {
    if (!iso) return "–";
    const d = new Date(iso);
    return d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
  }

  function whenShort(iso) {
    if (!iso) return "–";
    return new Date(iso).toLocaleString(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit" });
  }

  function isOverdue(c) {
    if (typeof c.overdue === "boolean") return c.overdue;
    return !!c.sla_deadline && new Date(c.sla_deadline) < new Date() && !["decided", "withdrawn"].includes(c.status);
  }

  const num = (v, digits = 3) => (typeof v === "number" ? v.toFixed(digits) : v === null || v === undefined ? "–" : String(v));
  const shortId = (id) => String(id).slice(0, 8);

  // ---- login page ------------------------------------------------------------------------
  function initLogin() {
    const form = $("login-form");
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const button = $("login-submit");
      if (button.disabled) return;
      const username = $("username").value.trim();
      const password = $("password").value;
      if (!username || !password) {
        showError(new Error("Enter your user name and password."));
        (username ? $("password") : $("username")).focus();
        return;
      }
      button.disabled = true;
      try {
        await api("POST", "/v1/auth/login", { username, password });
        location.assign("/console");
      } catch (err) {
        if (err.status === 403 || err.status === 401) err = new Error("Wrong user name or password.");
        showError(err);
        $("password").value = "";
        $("password").focus();
      } finally {
        button.disabled = false;
      }
    });
  }

  // ---- routing ---------------------------------------------------------------------------
  function route() {
    const m = location.hash.match(/^#\/case\/([\w-]+)$/);
    if (m) openCase(m[1]);
    else showQueue();
  }

  function showView(name) {
    $("queue-view").hidden = name !== "queue";
    $("case-view").hidden = name !== "case";
  }

  // ---- the queue -------------------------------------------------------------------------
  let queueTimer = null;

  async function showQueue() {
    showView("queue");
    currentCase = null;
    await loadQueue();
    clearInterval(queueTimer);
    // Deadlines move: refresh while the queue is on screen.
    queueTimer = setInterval(() => !$("queue-view").hidden && loadQueue(), 30000);
  }

  async function loadQueue() {
    const params = new URLSearchParams();
    const wanted = $("f-status").value;
    // "open" and "all" are ours: the API filters on one status or none.
    if (wanted !== "open" && wanted !== "all") params.set("status", wanted);
    if ($("f-overdue").checked) params.set("overdue", "true");
    params.set("limit", $("f-limit").value);
    try {
      const cases = await api("GET", "/v1/review/cases?" + params);
      let list = Array.isArray(cases) ? cases : cases.cases || [];
      if (wanted === "open") list = list.filter((c) => !["decided", "withdrawn"].includes(c.status));
      renderQueue(list);
      showError(null);
    } catch (err) {
      showError(err);
    }
  }

  function renderQueue(cases) {
    const body = $("queue").querySelector("tbody");
    body.replaceChildren();
    const overdue = cases.filter(isOverdue).length;
    $("queue-caption").textContent = cases.length + " case(s)" + (overdue ? ", " + overdue + " overdue" : "");
    if (!cases.length) {
      body.append(el("tr", {}, el("td", { colspan: "8", text: "No cases match these filters." })));
      return;
    }
    for (const c of cases) {
      const late = isOverdue(c);
      const deadline = el("td", {},
        el("time", { dateTime: c.sla_deadline || "", text: when(c.sla_deadline) }),
        " ", el("span", { class: "small", text: c.sla_deadline ? "(" + relative(new Date(c.sla_deadline)) + ")" : "" }),
        late ? el("span", {}, " ", el("span", { class: "badge overdue", text: "overdue" })) : null);
      const claim = el("button", { type: "button", class: "small-button", text: "Claim", "aria-label": "Claim case " + shortId(c.id) });
      claim.addEventListener("click", () => act(claim, () => claimCase(c.id)));
      const canClaim = ["queued", "escalated", "pending_confirmation"].includes(c.status) || (c.status === "claimed" && c.claimed_by === me.username);
      claim.hidden = !canClaim;
      const codes = (c.reasons || []).map((r) => (typeof r === "string" ? r : r.code)).join(", ");
      body.append(el("tr", { class: late ? "overdue" : "", "data-case": c.id, "data-session": c.session_id || "" },
        el("td", {}, el("a", { href: "#/case/" + c.id, text: shortId(c.id), title: c.id })),
        el("td", { text: c.status }),
        el("td", {}, el("span", { class: "badge " + c.machine_decision, text: c.machine_decision || "–" })),
        el("td", { text: num(c.risk_score, 2) }),
        el("td", { class: "small", text: codes || "–" }),
        deadline,
        el("td", { text: c.claimed_by || "–" }),
        el("td", {}, claim)));
    }
  }

  // Run an action once: the button (and its group) stays disabled while it is in flight,
  // so a double click cannot submit twice.
  let inFlight = false;

  async function act(button, fn) {
    if (inFlight) return;
    inFlight = true;
    const group = button.closest("#decide-buttons, form, tr") || button;
    const buttons = [...group.querySelectorAll("button")];
    if (!buttons.includes(button)) buttons.push(button);
    const was = buttons.map((b) => b.disabled);
    buttons.forEach((b) => { b.disabled = true; });
    button.setAttribute("aria-busy", "true");
    try {
      await fn();
      showError(null);
    } catch (err) {
      showError(err);
    } finally {
      inFlight = false;
      button.removeAttribute("aria-busy");
      buttons.forEach((b, i) => { if (b.isConnected) b.disabled = was[i]; });
      if (currentCase) updateButtons(currentCase.case);
    }
  }

  async function claimNext() {
    const detail = await api("POST", "/v1/review/claim-next");
    if (!detail) {
      announce("The queue is empty: no case to claim.");
      return;
    }
    const c = detail.case || detail;
    announce("Claimed case " + shortId(c.id) + ".");
    if (location.hash === "#/case/" + c.id) await openCase(c.id);
    else location.hash = "#/case/" + c.id; // route() loads the full detail
  }

  async function claimCase(id) {
    await api("POST", "/v1/review/cases/" + id + "/claim");
    announce("Claimed case " + shortId(id) + ".");
    if (location.hash === "#/case/" + id) await openCase(id);
    else location.hash = "#/case/" + id;
  }

  // ---- one case --------------------------------------------------------------------------
  let currentCase = null;

  async function openCase(id, { focus = true } = {}) {
    showView("case");
    clearInterval(queueTimer);
    try {
      const detail = await api("GET", "/v1/review/cases/" + id);
      renderCase(detail);
      showError(null);
      if (focus) $("h-case").focus();
    } catch (err) {
      showError(err);
    }
  }

  function renderCase(detail) {
    currentCase = detail;
    const c = detail.case;
    $("h-case").textContent = "Case " + shortId(c.id);
    $("h-case").title = c.id;
    const meta = $("case-meta");
    meta.replaceChildren();
    const item = (k, v) => meta.append(el("div", {}, el("dt", { text: k }), el("dd", {}, v)));
    item("Status", el("span", { class: "case-status", text: c.status }));
    item("Machine", el("span", { class: "badge " + c.machine_decision, text: c.machine_decision }));
    item("Risk", num(c.risk_score, 2));
    item("SLA", el("span", {}, when(c.sla_deadline) + " ", isOverdue(c) ? el("span", { class: "badge overdue", text: "overdue" }) : ""));
    item("Held by", c.claimed_by ? c.claimed_by + (c.lease_expires_at ? " until " + when(c.lease_expires_at) : "") : "–");
    if (c.final_decision) item("Decision", el("span", { class: "badge " + c.final_decision, text: c.final_decision + (c.decided_by ? " by " + c.decided_by : "") }));
    if (c.pending_decision) item("Pending", c.pending_decision + " by " + c.pending_by + ", needs a second reviewer");

    renderFaces(c.id, detail.evidence || c.evidence || []);
    renderFields(detail.fields || [], detail.personal_data_visible !== false);
    renderScores(detail.scores || []);
    renderReasons(detail.reasons || c.reasons || []);
    renderAudit(detail.audit || []);
    updateButtons(c);
  }

  function evidenceUrl(caseId, e) {
    return "/v1/review/cases/" + caseId + "/evidence/" + e.id;
  }

  function renderFaces(caseId, evidence) {
    const byKind = (k) => evidence.filter((e) => e.kind === k && !e.purged && !e.purged_at);
    const selfies = byKind("selfie");
    const pick = [
      ["Selfie", selfies[Math.floor(selfies.length / 2)]],
      ["Chip photo (DG2)", byKind("chip_portrait")[0]],
      ["Document portrait", byKind("page_portrait")[0] || byKind("document_image")[0]],
    ];
    const faces = $("faces");
    faces.replaceChildren();
    for (const [label, e] of pick) faces.append(viewer(label, e ? evidenceUrl(caseId, e) : null));

    const strip = $("frames");
    strip.replaceChildren();
    for (const e of [...byKind("document_image"), ...selfies]) {
      const a = el("a", { href: evidenceUrl(caseId, e), target: "_blank", rel: "noopener" },
        el("img", { src: evidenceUrl(caseId, e), alt: e.kind.replace("_", " ") + " " + shortId(e.id), loading: "lazy" }));
      strip.append(a);
    }
    if (!strip.children.length) strip.append(el("p", { class: "small", text: "No frames (purged or not captured)." }));
  }

  // One image with zoom and rotate. The transform is set through the CSSOM, which the
  // page's CSP (style-src 'self') allows, unlike inline style attributes.
  function viewer(label, src) {
    const fig = el("figure", { "data-kind": label });
    const port = el("div", { class: "viewport" });
    fig.append(el("figcaption", { text: label }), port);
    if (!src) {
      port.append(el("p", { class: "missing", text: "Not available" }));
      return fig;
    }
    const img = el("img", { src, alt: label });
    img.addEventListener("error", () => port.replaceChildren(el("p", { class: "missing", text: "Not available (claim the case to see it)" })));
    port.append(img);
    let zoom = 1;
    let turn = 0;
    const apply = () => { img.style.transform = "scale(" + zoom + ") rotate(" + turn + "deg)"; };
    const tool = (text, name, fn) => {
      const b = el("button", { type: "button", text, "aria-label": name + ": " + label });
      b.addEventListener("click", () => { fn(); apply(); });
      return b;
    };
    fig.append(el("div", { class: "tools" },
      tool("+", "Zoom in", () => { zoom = Math.min(zoom * 1.25, 6); }),
      tool("−", "Zoom out", () => { zoom = Math.max(zoom / 1.25, 0.5); }),
      tool("⟳", "Rotate", () => { turn = (turn + 90) % 360; }),
      tool("Reset", "Reset", () => { zoom = 1; turn = 0; })));
    return fig;
  }

  function renderFields(fields, visible) {
    const body = $("fields").querySelector("tbody");
    body.replaceChildren();
    // Personal data (the fields, the images) is shown only to the reviewer holding the case.
    const empty = visible ? "No fields: the MRZ was not read." : "Claim the case to see the fields.";
    if (!fields.length) body.append(el("tr", {}, el("td", { colspan: "4", text: empty })));
    for (const f of fields) {
      // A difference is marked by text as well as colour.
      const state = f.equal === true ? "same" : f.equal === false ? "DIFFERS" : "not compared";
      body.append(el("tr", { class: f.equal === false ? "differs" : "" },
        el("th", { scope: "row", text: f.name }),
        el("td", {}, el("code", { text: f.mrz ?? "–" })),
        el("td", {}, el("code", { text: f.chip ?? "–" })),
        el("td", { class: "state", text: state })));
    }
  }

  function renderScores(scores) {
    const body = $("scores").querySelector("tbody");
    body.replaceChildren();
    if (!scores.length) body.append(el("tr", {}, el("td", { colspan: "4", text: "No scores." })));
    for (const s of scores) {
      const verdict = s.passed === true ? ["pass", "passed"] : s.passed === false ? ["fail", "failed"] : ["warn", "n/a"];
      body.append(el("tr", {},
        el("th", { scope: "row", text: s.name }),
        el("td", { text: num(s.value) }),
        el("td", { text: (s.comparison ? s.comparison + " " : "") + num(s.threshold) }),
        el("td", {}, el("span", { class: "badge " + verdict[0], text: verdict[1] }))));
    }
  }

  function renderReasons(reasons) {
    const list = $("reasons");
    list.replaceChildren();
    if (!reasons.length) list.append(el("li", { text: "None." }));
    for (const r of reasons) {
      const code = typeof r === "string" ? r : r.code;
      const text = typeof r === "string" ? "" : r.explanation || r.reviewer || "";
      list.append(el("li", {}, el("strong", { text: code }), text ? " — " + text : ""));
    }
  }

  // One line per audit detail; long values (evidence lists, hashes) are summarised and
  // shown in full on request.
  function brief(v) {
    if (Array.isArray(v)) return v.length + " item(s)";
    if (v && typeof v === "object") return Object.keys(v).length + " field(s)";
    const text = String(v);
    return text.length > 60 ? text.slice(0, 57) + "…" : text;
  }

  function renderAudit(entries) {
    const body = $("audit").querySelector("tbody");
    body.replaceChildren();
    if (!entries.length) body.append(el("tr", {}, el("td", { colspan: "5", text: "No entries." })));
    for (const a of entries) {
      const details = a.details || {};
      const summary = Object.entries(details).map(([k, v]) => k + ": " + brief(v)).join("; ");
      const full = { details, before: a.before, after: a.after };
      const more = JSON.stringify(full).length > summary.length + 40
        ? el("details", {}, el("summary", { text: "all details" }), el("pre", { text: JSON.stringify(full, null, 1) }))
        : null;
      body.append(el("tr", { "data-action": a.action },
        el("td", { text: a.seq ?? "" }),
        el("td", {}, el("time", { dateTime: a.at || "", text: whenShort(a.at) })),
        el("td", { text: a.actor || "" }),
        el("td", { text: a.action || "" }),
        el("td", {}, summary, more)));
    }
  }

  function updateButtons(c) {
    // Only the reviewer holding the case may act on it; a closed case takes no action.
    const open = !["decided", "withdrawn"].includes(c.status);
    const mine = open && c.status === "claimed" && c.claimed_by === me.username;
    for (const b of $("decide-buttons").querySelectorAll("button")) {
      b.disabled = b.dataset.action === "claim" ? !open || mine : !mine;
    }
    claimButton.hidden = mine || !open;
    $("decide-note").textContent = !open ? "This case is closed." : mine ? "You hold this case." : "Claim the case to decide it.";
  }

  const claimButton = el("button", { type: "button", class: "primary", text: "Claim this case" });
  claimButton.dataset.action = "claim";

  async function decideAction(action) {
    const c = currentCase.case;
    const reason = $("reason").value.trim();
    if (action !== "release" && action !== "claim" && !reason) {
      $("reason").setAttribute("aria-invalid", "true");
      $("reason").focus();
      throw new Error("Write a reason first: it is recorded with the decision.");
    }
    $("reason").removeAttribute("aria-invalid");
    const base = "/v1/review/cases/" + c.id;
    let message;
    if (action === "claim") {
      await api("POST", base + "/claim");
      message = "Case claimed.";
    } else if (action === "accept" || action === "reject") {
      const res = await api("POST", base + "/decide", { decision: action.toUpperCase(), reason });
      message = res && res.pending_second_review
        ? "Recorded; a second reviewer must confirm this decision."
        : "Decision recorded: " + action.toUpperCase() + ".";
    } else if (action === "release") {
      await api("POST", base + "/release");
      message = "Case released back to the queue.";
    } else {
      await api("POST", base + "/" + action, { reason });
      message = action === "escalate" ? "Case escalated to a senior reviewer." : "A new capture was requested from the applicant.";
    }
    if (action !== "claim") $("reason").value = "";
    announce(message);
    await openCase(c.id, { focus: false });
  }

  // ---- start -----------------------------------------------------------------------------
  async function initConsole() {
    try {
      const who = await api("GET", "/v1/auth/me");
      me = { username: who.username, role: who.role };
      csrf = who.csrf_token;
      $("who").textContent = who.username + " (" + who.role.replace("_", " ") + ")";
    } catch (err) {
      if (err.status !== 401) showError(err);
      return;
    }
    $("decide-buttons").prepend(claimButton);
    $("filters").addEventListener("submit", (e) => {
      e.preventDefault();
      loadQueue();
    });
    for (const id of ["f-status", "f-overdue", "f-limit"]) $(id).addEventListener("change", loadQueue);
    $("claim-next").addEventListener("click", (e) => act(e.currentTarget, claimNext));
    $("decide-buttons").addEventListener("click", (e) => {
      const b = e.target.closest("button[data-action]");
      if (b && !b.disabled) act(b, () => decideAction(b.dataset.action));
    });
    $("logout").addEventListener("click", async () => {
      try { await api("POST", "/v1/auth/logout"); } catch (err) { /* signed out anyway */ }
      location.assign("/console/login");
    });
    addEventListener("hashchange", route);
    route();
    document.body.dataset.ready = "true";
  }

  if (document.body.dataset.page === "login") initLogin();
  else initConsole();
})();

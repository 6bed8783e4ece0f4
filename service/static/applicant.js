// The applicant's page: create a session, capture the passport page with live MRZ
// feedback, offer the chip read, take a selfie burst, submit and show the decision.
// Plain JS, no build step, no third-party code. API: docs/api.md.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const STORE_KEY = "proofing.applicant";
  const LANGS = ["en", "et", "ru"];
  const PREVIEW_GAP_MS = 500; // pause between live previews: the server OCRs each one
  const DOC_FRAMES = 3; // "ready" frames uploaded for the page (the server votes over them)
  const SELFIE_FRAMES = 8; // the liveness burst
  const SELFIE_GAP_MS = 180; // spread the burst over ~1.5 s so it shows natural motion
  const POLL_MS = 1500;

  // ---- messages ------------------------------------------------------------------------
  let messages = {};
  let fallback = {};
  let lang = "en";

  function t(key, vars) {
    let text = messages[key] ?? fallback[key] ?? key;
    for (const [k, v] of Object.entries(vars || {})) text = text.replaceAll("{" + k + "}", v);
    return text;
  }

  async function loadCatalogue(code) {
    const r = await fetch("/static/i18n/" + code + ".json");
    if (!r.ok) throw new Error("catalogue " + code + ": " + r.status);
    return r.json();
  }

  function pickLanguage() {
    const saved = localStorage.getItem("proofing.lang");
    if (LANGS.includes(saved)) return saved;
    for (const l of navigator.languages || [navigator.language || "en"]) {
      const base = String(l).toLowerCase().split("-")[0];
      if (LANGS.includes(base)) return base;
    }
    return "en";
  }

  async function setLanguage(code) {
    fallback = Object.keys(fallback).length ? fallback : await loadCatalogue("en");
    messages = code === "en" ? fallback : await loadCatalogue(code);
    lang = code;
    document.documentElement.lang = code;
    $("lang").value = code;
    // Static text: data-i18n sets the text, data-i18n-attr="attr:key;attr:key" attributes.
    for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
    for (const el of document.querySelectorAll("[data-i18n-attr]")) {
      for (const pair of el.dataset.i18nAttr.split(";")) {
        const [attr, key] = pair.split(":");
        el.setAttribute(attr, t(key));
      }
    }
    document.title = t("title");
    if (lastResult) showResult(lastResult); // re-render the dynamic text
  }

  // ---- session state (sessionStorage: gone when the tab closes) -------------------------
  let state = null; // {id, token, challenge, expiresAt, step}

  function save() {
    if (state) sessionStorage.setItem(STORE_KEY, JSON.stringify(state));
    else sessionStorage.removeItem(STORE_KEY);
  }

  function restore() {
    // A hand-off link carries the session in the fragment (never sent to the server);
    // take it, then remove it from the address bar and the history.
    const params = new URLSearchParams(location.hash.slice(1));
    if (params.get("session") && params.get("token")) {
      state = {
        id: params.get("session"), token: params.get("token"),
        challenge: params.get("challenge") || null, step: params.get("step") || "document",
      };
      history.replaceState(null, "", location.pathname + location.search);
      save();
      return;
    }
    try {
      state = JSON.parse(sessionStorage.getItem(STORE_KEY) || "null");
    } catch (e) {
      state = null;
    }
  }

  // ---- HTTP ------------------------------------------------------------------------------
  class ApiError extends Error {
    constructor(status, code, detail) {
      super(detail || code || "HTTP " + status);
      this.status = status;
      this.code = code;
    }
  }

  async function api(method, path, body) {
    const headers = { "Accept-Language": lang };
    if (state && state.token) headers.Authorization = "Bearer " + state.token;
    let payload = body;
    if (body && !(body instanceof FormData)) {
      headers["Content-Type"] = "application/json";
      payload = JSON.stringify(body);
    }
    const r = await fetch(path, { method, headers, body: payload, cache: "no-store" });
    if (r.status === 204) return null;
    const type = r.headers.get("Content-Type") || "";
    const data = type.includes("json") ? await r.json().catch(() => null) : await r.blob();
    if (!r.ok) throw new ApiError(r.status, data && data.error, data && data.detail);
    return data;
  }

  function showError(err) {
    const box = $("error");
    if (!err) {
      box.hidden = true;
      box.textContent = "";
      return;
    }
    console.error(err);
    let key = "error_generic";
    if (err.status === 410) key = "error_expired";
    else if (err.status === 401 || err.status === 403) key = "error_session";
    else if (err.status === 413) key = "error_too_large";
    else if (err.status === 415 || err.status === 422) key = "error_image";
    else if (err.status === 429) key = "error_busy";
    else if (err.name === "NotAllowedError") key = "error_camera_denied";
    else if (err.name === "NotFoundError" || err.name === "OverconstrainedError") key = "error_no_camera";
    else if (err instanceof TypeError) key = "error_network";
    box.textContent = t(key);
    box.hidden = false;
  }

  // ---- steps -----------------------------------------------------------------------------
  const STEPS = ["welcome", "document", "chip", "selfie", "wait", "result"];
  let current = null;

  function showStep(name, { focus = true } = {}) {
    stopCamera();
    current = name;
    for (const s of STEPS) $("step-" + s).hidden = s !== name;
    const order = ["document", "chip", "selfie", "result"];
    const at = order.indexOf(name === "wait" ? "result" : name);
    for (const li of document.querySelectorAll("#progress li")) {
      const i = order.indexOf(li.dataset.step);
      li.classList.toggle("done", at > i);
      if (i === at) li.setAttribute("aria-current", "step");
      else li.removeAttribute("aria-current");
    }
    if (state && ["document", "chip", "selfie"].includes(name)) {
      state.step = name;
      save();
      updateHandoff();
    } else {
      $("handoff").hidden = true;
    }
    // Move focus to the new step's heading so keyboard and screen-reader users start there.
    if (focus) $("h-" + name).focus();
    if (name === "document") startDocument();
    if (name === "chip") startChip();
    if (name === "selfie") startSelfie();
  }

  function updateHandoff() {
    const p = new URLSearchParams({ session: state.id, token: state.token, step: state.step });
    if (state.challenge) p.set("challenge", state.challenge);
    const url = location.origin + location.pathname + "#" + p.toString();
    $("handoff-link").href = url;
    $("handoff-link").textContent = t("handoff_link");
    $("handoff").hidden = false;
  }

  // ---- camera ----------------------------------------------------------------------------
  let stream = null;
  let loopToken = 0; // bumping it stops any running preview loop

  async function startCamera(video, facing) {
    stream = await navigator.mediaDevices.getUserMedia({
      audio: false,
      video: { facingMode: facing, width: { ideal: 1920 }, height: { ideal: 1080 } },
    });
    video.srcObject = stream;
    await video.play().catch(() => {});
    // Wait for the first frame: videoWidth stays 0 until then.
    for (let i = 0; i < 100 && !video.videoWidth; i++) await sleep(50);
  }

  function stopCamera() {
    loopToken++;
    if (stream) for (const track of stream.getTracks()) track.stop();
    stream = null;
  }

  function grab(video, maxSide) {
    const canvas = $("grab");
    const scale = Math.min(1, maxSide / Math.max(video.videoWidth, video.videoHeight));
    canvas.width = Math.round(video.videoWidth * scale);
    canvas.height = Math.round(video.videoHeight * scale);
    canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
    return new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.92));
  }

  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  // Show feedback only when it changes: a live region that repeats itself every half
  // second would drown a screen reader.
  function say(el, text) {
    if (el.textContent !== text) el.textContent = text;
  }

  function feedbackText(res) {
    const codes = res.feedback || [];
    const server = res.messages || [];
    const parts = codes.map((code, i) => {
      const key = "fb." + code;
      if (key in messages || key in fallback) return t(key);
      return (Array.isArray(server) ? server[i] : server[code]) || code;
    });
    if (!parts.length && Array.isArray(server)) parts.push(...server);
    return [...new Set(parts)].join(" "); // several codes may share one sentence
  }

  // Preview frames until the server says `ready` `need` times; resolves with those frames.
  // Resolves early (with what it has) when `captureNow` is pressed.
  async function previewLoop(kind, video, feedbackEl, need, maxSide) {
    const mine = ++loopToken;
    const ready = [];
    let last = null;
    let backoff = PREVIEW_GAP_MS;
    let failures = 0; // server errors in a row: the live check itself is broken
    manualCapture = false;
    while (mine === loopToken) {
      const frame = video.videoWidth ? await grab(video, maxSide) : null;
      if (!frame) { // no picture from the camera yet
        await sleep(PREVIEW_GAP_MS);
        continue;
      }
      last = frame;
      if (manualCapture) break;
      try {
        const form = new FormData();
        form.append("frame", frame, kind + ".jpg");
        const res = await api("POST", "/v1/sessions/" + state.id + "/" + kind + "/preview", form);
        if (mine !== loopToken) return null;
        showError(null);
        backoff = PREVIEW_GAP_MS;
        failures = 0;
        if (res.ready) {
          ready.push(frame);
          say(feedbackEl, t(kind === "document" ? "fb_doc_ready" : "fb_face_ready"));
          if (kind === "document" && res.fields) showFields(res.fields);
          if (ready.length >= need) return ready;
        } else {
          say(feedbackEl, feedbackText(res) || t("fb_searching"));
        }
      } catch (err) {
        if (mine !== loopToken) return null;
        if (err.status === 409 || err.status === 410 || err.status === 401 || err.status === 403) throw err;
        backoff = Math.min(backoff * 2, 5000); // rate limit or a hiccup: slow down, keep going
        if (err.status === 429) say(feedbackEl, t("error_busy"));
        // Without live hints the applicant can still take the picture by hand.
        else if (++failures >= 3) say(feedbackEl, t("fb_unavailable"));
      }
      await sleep(manualCapture ? 0 : backoff);
    }
    if (mine !== loopToken) return null;
    return ready.length ? ready : last ? [last] : [];
  }

  let manualCapture = false;

  // ---- step: document --------------------------------------------------------------------
  async function startDocument() {
    const video = $("document-video");
    const fb = $("document-feedback");
    say(fb, t("fb_starting_camera"));
    $("document-fields").hidden = true;
    try {
      await startCamera(video, "environment");
      say(fb, t("fb_searching"));
      const frames = await previewLoop("document", video, fb, DOC_FRAMES, 2000);
      if (frames) await uploadDocument(frames);
    } catch (err) {
      showError(err);
      say(fb, "");
    }
  }

  function showFields(fields) {
    // The preview may return what it read: show the name so the applicant sees it worked.
    const name = [fields.given_names, fields.surname].filter(Boolean).join(" ");
    if (!name) return;
    $("document-fields").textContent = t("doc_read_as", { name });
    $("document-fields").hidden = false;
  }

  async function uploadDocument(frames) {
    const fb = $("document-feedback");
    say(fb, t("uploading"));
    setBusy(true);
    try {
      const form = new FormData();
      frames.forEach((f, i) => form.append("frames", f, "page-" + i + (f.type === "image/png" ? ".png" : ".jpg")));
      await api("POST", "/v1/sessions/" + state.id + "/document", form);
      showError(null);
      showStep("chip");
    } catch (err) {
      showError(err);
      say(fb, "");
      if (err.status !== 410) setTimeout(() => current === "document" && showStep("document", { focus: false }), 1500);
    } finally {
      setBusy(false);
    }
  }

  // ---- step: chip ------------------------------------------------------------------------
  let chipTimer = null;

  function startChip() {
    $("session-code").textContent = state.id;
    // The chip's access key (BAC/PACE) comes from the printed page, which this page does
    // not know: the applicant fills in the placeholders (or uses the CAN of an ID card).
    // The AA challenge is passed along because GET /v1/sessions/{id} does not return it.
    $("chip-command").textContent =
      "proofing read-chip --session " + location.origin + "/v1/sessions/" + state.id +
      " --token " + state.token + (state.challenge ? " --challenge " + state.challenge : "") +
      " --document-number " + t("ph_number") + " --birth " + t("ph_date") + " --expiry " + t("ph_date");
    say($("chip-status"), t("chip_waiting"));
    clearInterval(chipTimer);
    // The chip is uploaded by the command line tool, not by this page: poll for it.
    chipTimer = setInterval(() => checkChip(false), 3000);
  }

  async function checkChip(userAsked) {
    if (current !== "chip") return clearInterval(chipTimer);
    try {
      const s = await api("GET", "/v1/sessions/" + state.id);
      if (chipCount(s) > 0) {
        clearInterval(chipTimer);
        say($("chip-status"), t("chip_received"));
        showStep("selfie");
      } else if (userAsked) {
        say($("chip-status"), t("chip_not_yet"));
      }
    } catch (err) {
      if (userAsked || err.status === 410) showError(err);
    }
  }

  function chipCount(s) {
    const c = (s && s.counts) || {};
    const v = c.chip ?? c.chip_files ?? 0;
    return typeof v === "object" ? Object.keys(v).length : Number(v) || 0;
  }

  // ---- step: selfie ----------------------------------------------------------------------
  async function startSelfie() {
    const video = $("selfie-video");
    const fb = $("selfie-feedback");
    const bar = $("selfie-progress");
    bar.hidden = true;
    say(fb, t("fb_starting_camera"));
    try {
      await startCamera(video, "user");
      say(fb, t("fb_face_searching"));
      const ok = await previewLoop("selfie", video, fb, 1, 960);
      if (!ok) return;
      // The burst: SELFIE_FRAMES frames, evenly spaced, while the applicant holds still.
      const mine = loopToken;
      say(fb, t("fb_burst"));
      bar.max = SELFIE_FRAMES;
      bar.value = 0;
      bar.hidden = false;
      const frames = [];
      for (let i = 0; i < SELFIE_FRAMES; i++) {
        if (mine !== loopToken) return;
        frames.push(await grab(video, 960));
        bar.value = i + 1;
        await sleep(SELFIE_GAP_MS);
      }
      stopCamera();
      await uploadSelfie(frames);
    } catch (err) {
      showError(err);
      say(fb, "");
    }
  }

  async function uploadSelfie(frames) {
    const fb = $("selfie-feedback");
    say(fb, t("uploading"));
    setBusy(true);
    try {
      const form = new FormData();
      frames.forEach((f, i) => form.append("frames", f, "selfie-" + i + ".jpg"));
      if (recapturing) {
        // A reviewer asked for new pictures: they join the same case, which queues again.
        const s = await api("POST", "/v1/sessions/" + state.id + "/recapture/selfie", form);
        recapturing = false;
        showError(null);
        showResult(s);
        showStep("result");
        return;
      }
      await api("POST", "/v1/sessions/" + state.id + "/selfie", form);
      await api("POST", "/v1/sessions/" + state.id + "/submit");
      showError(null);
      showStep("wait");
      poll();
    } catch (err) {
      showError(err);
      say(fb, "");
    } finally {
      setBusy(false);
    }
  }

  // ---- waiting and the result -----------------------------------------------------------
  let lastResult = null;
  let recapturing = false;

  async function poll() {
    const started = Date.now();
    while (current === "wait") {
      try {
        const s = await api("GET", "/v1/sessions/" + state.id);
        if (s.status === "decided" || s.status === "expired" || s.status === "erased") {
          showResult(s);
          showStep("result");
          return;
        }
        say($("wait-status"), Date.now() - started > 20000 ? t("wait_long") : t("wait_text"));
      } catch (err) {
        showError(err);
        if (err.status && err.status !== 429 && err.status < 500) return;
      }
      await sleep(POLL_MS);
    }
  }

  function showResult(s) {
    lastResult = s;
    const decision = s.status === "decided" ? String(s.decision || "REVIEW").toUpperCase() : s.status.toUpperCase();
    const section = $("step-result");
    section.dataset.decision = decision;
    $("h-result").textContent = t("result_" + decision.toLowerCase() + "_title");
    $("result-text").textContent = t("result_" + decision.toLowerCase() + "_text");
    // A reviewer may ask for new pictures instead of deciding.
    if (s.review_status === "awaiting_capture") $("result-text").textContent = t("result_new_capture");
    const list = $("result-reasons");
    list.replaceChildren();
    for (const r of s.reasons || []) {
      // Reasons may be codes or {code, applicant}: prefer our own translation of the code.
      const code = typeof r === "string" ? r : r.code;
      const key = "reason." + code;
      const text = key in messages || key in fallback ? t(key) : (r.applicant || r.message || code);
      const li = document.createElement("li");
      li.textContent = text;
      li.dataset.code = code;
      list.append(li);
    }
    $("result-session").textContent = s.session_id || state.id;
    $("evidence-download").hidden = !(s.status === "decided" && (s.evidence_url || s.decision));
    $("withdraw").hidden = s.status !== "decided";
    $("recapture").hidden = s.review_status !== "awaiting_capture";
    watchReview(s);
  }

  // A REVIEW becomes the reviewer's ACCEPT or REJECT: while the result is on screen, look
  // again now and then (the result text is a live region, so the change is announced).
  let reviewTimer = null;

  function watchReview(s) {
    clearTimeout(reviewTimer);
    if (s.status !== "decided" || String(s.decision).toUpperCase() !== "REVIEW") return;
    reviewTimer = setTimeout(async () => {
      if (current !== "result" || !state) return;
      try {
        showResult(await api("GET", "/v1/sessions/" + state.id));
      } catch (err) {
        if (err.status === 429 || err.status >= 500 || err instanceof TypeError) watchReview(s);
      }
    }, 15000);
  }

  async function downloadEvidence() {
    try {
      const blob = await api("GET", "/v1/sessions/" + state.id + "/evidence");
      const a = document.createElement("a");
      a.href = URL.createObjectURL(blob);
      a.download = "proofing-" + state.id + ".jws";
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(a.href), 10000);
    } catch (err) {
      showError(err);
    }
  }

  async function withdraw() {
    if (!confirm(t("withdraw_confirm"))) return;
    try {
      await api("DELETE", "/v1/sessions/" + state.id);
      $("result-text").textContent = t("withdrawn");
      $("withdraw").hidden = true;
      $("evidence-download").hidden = true;
      $("result-text").focus();
    } catch (err) {
      showError(err);
    }
  }

  // ---- start and resume ------------------------------------------------------------------
  function setBusy(busy) {
    for (const id of ["start", "document-capture", "selfie-capture", "chip-skip", "chip-check"]) $(id).disabled = busy;
    document.body.setAttribute("aria-busy", busy ? "true" : "false");
  }

  async function createSession() {
    setBusy(true);
    try {
      const s = await api("POST", "/v1/sessions");
      state = { id: s.session_id, token: s.applicant_token, challenge: s.challenge, expiresAt: s.expires_at, step: "document" };
      save();
      showError(null);
      showStep("document");
    } catch (err) {
      showError(err);
    } finally {
      setBusy(false);
    }
  }

  async function resume() {
    try {
      const s = await api("GET", "/v1/sessions/" + state.id);
      if (s.challenge && !state.challenge) {
        state.challenge = s.challenge; // for the read-chip command
        save();
      }
      if (s.status === "open") showStep(state.step || "document", { focus: false });
      else if (s.status === "decided" || s.status === "expired" || s.status === "erased") {
        showResult(s);
        showStep("result", { focus: false });
      } else {
        showStep("wait", { focus: false });
        poll();
      }
    } catch (err) {
      state = null;
      save();
      showStep("welcome", { focus: false });
      showError(err);
    }
  }

  function restart() {
    stopCamera();
    state = null;
    lastResult = null;
    save();
    showError(null);
    showStep("welcome");
  }

  async function main() {
    await setLanguage(pickLanguage()).catch((err) => console.error(err));
    $("lang").addEventListener("change", (e) => {
      localStorage.setItem("proofing.lang", e.target.value);
      setLanguage(e.target.value).then(() => {
        if (current === "chip") startChip();
        if (state && $("handoff").hidden === false) updateHandoff();
      });
    });
    $("start").addEventListener("click", createSession);
    $("document-capture").addEventListener("click", () => { manualCapture = true; });
    $("selfie-capture").addEventListener("click", () => { manualCapture = true; });
    $("document-file").addEventListener("change", (e) => {
      const file = e.target.files && e.target.files[0];
      if (!file) return;
      stopCamera();
      uploadDocument([file]);
      e.target.value = "";
    });
    $("chip-check").addEventListener("click", () => checkChip(true));
    $("chip-skip").addEventListener("click", () => {
      clearInterval(chipTimer);
      showStep("selfie");
    });
    $("chip-copy").addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText($("chip-command").textContent);
        say($("chip-status"), t("copied"));
      } catch (e) {
        // No clipboard permission: select the text so Ctrl+C works.
        const range = document.createRange();
        range.selectNodeContents($("chip-command"));
        getSelection().removeAllRanges();
        getSelection().addRange(range);
      }
    });
    $("evidence-download").addEventListener("click", downloadEvidence);
    $("restart").addEventListener("click", restart);
    $("withdraw").addEventListener("click", withdraw);
    $("recapture").addEventListener("click", () => {
      recapturing = true;
      showStep("selfie");
    });
    addEventListener("pagehide", stopCamera);

    restore();
    if (state && state.id && state.token) await resume();
    else showStep("welcome", { focus: false });
    document.body.dataset.ready = "true";
  }

  main();
})();

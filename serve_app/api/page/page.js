// The page at `/`: the server's state from its JSON routes, and a form that sends an
// image to a model and draws the answer over it. Every request goes to this server;
// the API key lives in `apiKey` below and nowhere else.
(function () {
  "use strict";

  // The server's palette (serve_app/preprocessing/visualization.py), by class id.
  const PALETTE = ["#FF3838", "#2C99A8", "#FF9D97", "#FF701F", "#FFB21D", "#CFD231",
    "#48F90A", "#92CC17", "#3DDB86", "#1A9334", "#00D4BB", "#00C2FF", "#344593", "#6473FF",
    "#0018EC", "#8438FF", "#520085", "#CB38FF", "#FF95C8", "#FF37C7"];
  const REFRESH_MS = 5000;
  const $ = (id) => document.getElementById(id);

  let apiKey = "";
  let image = null; // {kind: "file", name, dataUrl} or {kind: "url", url}
  let modelChosen = false; // once a person types a model, refreshes leave the field alone

  // What the last answer drew, in image pixels, for people reading the JSON and for tests.
  window.rfserveDrawn = [];

  function headers(extra) {
    const h = Object.assign({}, extra || {});
    if (apiKey) h.Authorization = "Bearer " + apiKey;
    return h;
  }

  async function call(path, options) {
    let response;
    try {
      response = await fetch(path, Object.assign({ cache: "no-store" }, options || {}));
    } catch (e) {
      throw new Error("The server cannot be reached: " + e.message);
    }
    const text = await response.text();
    let body = null;
    try { body = JSON.parse(text); } catch (e) { body = null; }
    if (!response.ok && response.status !== 503) {
      const message = body && (body.message || body.detail);
      throw new Error("HTTP " + response.status + ": " +
        (typeof message === "string" ? message : text.slice(0, 300)));
    }
    return { status: response.status, body: body };
  }

  // ---- server state -------------------------------------------------------------------

  async function showInfo() {
    try {
      const info = (await call("info")).body;
      $("version").textContent = info.version ? "v" + info.version : "";
    } catch (e) { $("version").textContent = ""; }
    const port = document.querySelector('meta[name="rfserve-metrics-port"]').content;
    if (port) {
      const link = $("metrics-link");
      link.href = location.protocol + "//" + location.hostname + ":" + port + "/metrics";
      link.title = "Ray's Prometheus endpoint of the node that served this page (port " +
        port + "); every Ray node has one";
      link.hidden = false;
    }
  }

  async function showReadiness() {
    const badge = $("readiness");
    try {
      const answer = await call("readiness");
      const ready = answer.status === 200;
      badge.className = "badge " + (ready ? "ready" : "not-ready");
      const missing = (answer.body && answer.body.missing_models) || [];
      badge.textContent = ready ? "ready" :
        "not ready" + (missing.length ? ": loading " + missing.join(", ") : "");
    } catch (e) {
      badge.className = "badge not-ready";
      badge.textContent = "unreachable";
    }
  }

  function engineText(engine) {
    if (!engine) return ["–", "–"];
    let live = engine.live + " on " + engine.device;
    if (engine.fallback) live += " (" + engine.fallback + ")";
    const b = engine.build;
    if (!b) return [live, "none"];
    let build = b.backend + ": " + b.state;
    if (b.state !== "ready" && b.state !== "failed") {
      build += " " + Math.round(100 * b.progress) + " %";
    }
    build += ", " + b.elapsed_s.toFixed(1) + " s";
    if (b.origin) build += " (" + b.origin + ")";
    if (b.error) build += ": " + b.error;
    return [live, build];
  }

  function cell(row, text, code) {
    const td = row.insertCell();
    if (code) {
      const c = document.createElement("code");
      c.textContent = text;
      td.appendChild(c);
    } else {
      td.textContent = text;
    }
    return td;
  }

  async function showModels() {
    const error = $("models-error");
    const body = $("models-table").tBodies[0];
    let models;
    try {
      models = (await call("model/registry", { headers: headers() })).body.models;
      error.hidden = true;
    } catch (e) {
      error.textContent = e.message;
      error.hidden = false;
      return;
    }
    body.replaceChildren();
    const ids = $("model-ids");
    ids.replaceChildren();
    for (const m of models) {
      const option = document.createElement("option");
      option.value = m.model_id;
      ids.appendChild(option);
      const replicas = m.replicas.length ? m.replicas : [null];
      replicas.forEach((replica, i) => {
        const row = body.insertRow();
        if (i === 0) {
          for (const [text, code] of [[m.model_id, true], [m.task_type, false],
            [m.input_width + "×" + m.input_height + (m.batch_size ? ", batch " +
              m.batch_size : ""), false]]) {
            cell(row, text, code).rowSpan = replicas.length;
          }
        }
        cell(row, replica ? replica.replica_id.slice(-8) + " on node " +
          replica.node_id.slice(0, 8) : "–", true);
        const [live, build] = engineText(m.engines[i]);
        cell(row, live, false);
        cell(row, build, false);
      });
    }
    $("models-empty").hidden = models.length > 0;
    const input = $("model-id");
    if (!modelChosen && models.length) input.value = models[0].model_id;
  }

  function refresh() {
    showReadiness();
    showModels();
  }

  // ---- choosing an image --------------------------------------------------------------

  function useFile(file) {
    if (!file) return;
    const reader = new FileReader();
    reader.onload = () => {
      image = { kind: "file", name: file.name, dataUrl: reader.result };
      $("image-url").value = "";
      $("drop-text").textContent = "Image: " + file.name + ". Drop another, or";
    };
    reader.readAsDataURL(file);
  }

  async function useExample() {
    const response = await fetch("page-assets/example.jpg");
    const blob = await response.blob();
    useFile(new File([blob], "example.jpg", { type: blob.type }));
  }

  function loadImage(src) {
    return new Promise((resolve) => {
      const img = new Image();
      img.onload = () => resolve(img);
      img.onerror = () => resolve(null); // the server may reach a URL this browser cannot
      img.src = src;
    });
  }

  // ---- asking the model ---------------------------------------------------------------

  async function infer(event) {
    event.preventDefault();
    const modelId = $("model-id").value.trim().replace(/^\/+|\/+$/g, "");
    const url = $("image-url").value.trim();
    if (url) image = { kind: "url", url: url };
    $("error").hidden = true;
    if (!image) return showError("Choose an image first: drop one, pick one or give a URL.");
    if (modelId.split("/").length !== 2) {
      return showError("A model id is dataset/version, e.g. shapes-detection/1.");
    }
    const payload = image.kind === "url" ? { type: "url", value: image.url } :
      { type: "base64", value: image.dataUrl.slice(image.dataUrl.indexOf(",") + 1) };
    const request = {
      image: payload,
      confidence: parseFloat($("confidence").value),
      iou_threshold: parseFloat($("iou").value),
    };
    clearAnswer();
    $("status").textContent = "Asking " + modelId + "…";
    $("run").disabled = true;
    const started = performance.now();
    try {
      // The classic route answers for every task, in that task's shape; a JSON body is
      // read as the /infer request of the model's task.
      const answer = await call(modelId, {
        method: "POST",
        headers: headers({ "Content-Type": "application/json" }),
        body: JSON.stringify(request),
      });
      const roundTrip = performance.now() - started;
      if (answer.status !== 200) throw new Error(answer.body.message || "HTTP 503");
      await show(answer.body, roundTrip);
      showModels();
    } catch (e) {
      $("status").textContent = "";
      showError(e.message);
    } finally {
      $("run").disabled = false;
    }
  }

  function clearAnswer() {
    $("json").textContent = "";
    $("note").textContent = "";
    $("classes").replaceChildren();
    const canvas = $("canvas");
    canvas.width = 0;
    canvas.height = 0;
  }

  function showError(message) {
    $("error").textContent = message;
    $("error").hidden = false;
  }

  async function show(answer, roundTrip) {
    $("json").textContent = JSON.stringify(answer, null, 2);
    const server = typeof answer.time === "number" ? (1000 * answer.time).toFixed(1) : "?";
    $("status").textContent = "Server time " + server + " ms, round trip " +
      roundTrip.toFixed(1) + " ms.";
    const img = await loadImage(image.kind === "url" ? image.url : image.dataUrl);
    const size = answer.image ||
      { width: img ? img.naturalWidth : 0, height: img ? img.naturalHeight : 0 };
    const canvas = $("canvas");
    canvas.width = size.width;
    canvas.height = size.height;
    const ctx = canvas.getContext("2d");
    if (img) ctx.drawImage(img, 0, 0, size.width, size.height);
    const drawn = [];
    const note = [];
    if (!img) note.push("This browser could not load the image; the answer is drawn on blank.");
    const predictions = answer.predictions;
    if (Array.isArray(predictions) && (predictions.length === 0 || "x" in predictions[0])) {
      drawObjects(ctx, predictions, size, drawn, note);
    } else {
      listClasses(answer, drawn);
    }
    window.rfserveDrawn = drawn;
    canvas.dataset.drawn = JSON.stringify(drawn);
    $("note").textContent = note.join(" ");
  }

  function colorOf(classId) {
    return PALETTE[((classId % PALETTE.length) + PALETTE.length) % PALETTE.length];
  }

  function drawObjects(ctx, predictions, size, drawn, note) {
    const width = Math.max(2, Math.round(Math.max(size.width, size.height) / 300));
    const font = Math.max(12, Math.round(Math.max(size.width, size.height) / 45));
    ctx.lineWidth = width;
    ctx.lineJoin = "round";
    ctx.font = font + "px system-ui, sans-serif";
    if (predictions.length === 0) note.push("No object scored above the confidence.");
    let joined = false;
    for (const p of predictions) {
      const color = colorOf(p.class_id);
      ctx.strokeStyle = color;
      ctx.fillStyle = color;
      const x1 = p.x - p.width / 2, y1 = p.y - p.height / 2;
      const x2 = p.x + p.width / 2, y2 = p.y + p.height / 2;
      ctx.strokeRect(x1, y1, p.width, p.height);
      drawn.push({ kind: "box", class: p.class, class_id: p.class_id,
        confidence: p.confidence, x1: x1, y1: y1, x2: x2, y2: y2, color: color });
      if (Array.isArray(p.points) && p.points.length > 2) {
        ctx.beginPath();
        p.points.forEach((q, i) => (i ? ctx.lineTo(q.x, q.y) : ctx.moveTo(q.x, q.y)));
        ctx.closePath();
        ctx.stroke();
        drawn.push({ kind: "outline", class_id: p.class_id,
          points: p.points.map((q) => [q.x, q.y]), color: color });
      }
      if (Array.isArray(p.keypoints)) {
        // Roboflow's answer names each keypoint but carries no skeleton: join them in
        // their index order, one path per object.
        const points = p.keypoints.slice().sort((a, b) => a.class_id - b.class_id);
        for (let i = 1; i < points.length; i++) {
          ctx.beginPath();
          ctx.moveTo(points[i - 1].x, points[i - 1].y);
          ctx.lineTo(points[i].x, points[i].y);
          ctx.stroke();
          drawn.push({ kind: "edge", class_id: p.class_id, color: color,
            from: [points[i - 1].x, points[i - 1].y], to: [points[i].x, points[i].y] });
          joined = true;
        }
        for (const k of points) {
          ctx.beginPath();
          ctx.arc(k.x, k.y, width * 2, 0, 2 * Math.PI);
          ctx.fill();
          drawn.push({ kind: "keypoint", class_id: p.class_id, name: k.class,
            confidence: k.confidence, x: k.x, y: k.y, color: color });
        }
      }
      drawLabel(ctx, p.class + " " + p.confidence.toFixed(2), x1, y1, color, font, size);
    }
    if (joined) {
      note.push("Keypoints are joined in their index order: the answer carries no skeleton.");
    }
  }

  function drawLabel(ctx, text, x, y, color, font, size) {
    const pad = Math.round(font / 4);
    const w = ctx.measureText(text).width + 2 * pad, h = font + 2 * pad;
    const left = Math.min(Math.max(x, 0), Math.max(size.width - w, 0));
    const top = y - h >= 0 ? y - h : Math.min(Math.max(y, 0), Math.max(size.height - h, 0));
    ctx.fillStyle = color;
    ctx.fillRect(left, top, w, h);
    ctx.fillStyle = luma(color) > 150 ? "#000" : "#fff";
    ctx.textBaseline = "top";
    ctx.fillText(text, left + pad, top + pad);
  }

  function luma(hex) {
    const n = parseInt(hex.slice(1), 16);
    return 0.299 * (n >> 16) + 0.587 * ((n >> 8) & 255) + 0.114 * (n & 255);
  }

  function listClasses(answer, drawn) {
    // Single-label: a list best first; multi-label: {class: {confidence, class_id}}.
    let ranked = Array.isArray(answer.predictions) ? answer.predictions :
      Object.entries(answer.predictions || {}).map(([name, v]) =>
        ({ class: name, class_id: v.class_id, confidence: v.confidence }));
    ranked = ranked.slice().sort((a, b) => b.confidence - a.confidence);
    const chosen = new Set(answer.predicted_classes || (answer.top ? [answer.top] : []));
    for (const p of ranked) {
      const li = document.createElement("li");
      li.textContent = p.class + " " + p.confidence.toFixed(3) + (chosen.has(p.class) ? " ✓" : "");
      const bar = document.createElement("span");
      bar.className = "bar";
      bar.style.width = Math.round(200 * p.confidence) + "px";
      bar.style.background = colorOf(p.class_id);
      li.appendChild(bar);
      $("classes").appendChild(li);
      drawn.push({ kind: "class", class: p.class, confidence: p.confidence });
    }
  }

  // ---- wiring ---------------------------------------------------------------------------

  $("api-key").addEventListener("input", (e) => { apiKey = e.target.value; refresh(); });
  $("refresh").addEventListener("click", refresh);
  $("model-id").addEventListener("input", () => { modelChosen = true; });
  $("file").addEventListener("change", (e) => useFile(e.target.files[0]));
  $("example").addEventListener("click", useExample);
  $("try-form").addEventListener("submit", infer);
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    useFile(e.dataTransfer.files[0]);
  });
  showInfo();
  refresh();
  setInterval(() => { if (!document.hidden) refresh(); }, REFRESH_MS);
})();

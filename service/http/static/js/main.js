// The demo page: a tab per task route (read from /openapi.json), samples, uploads, live input.

import { ApiError, getJson, runTask, setToken } from "./api.js";
import { Recorder, decodeAudio, drawWaveform, encodeWav } from "./audio.js";
import { LiveCamera } from "./camera.js";
import { drawImage } from "./draw.js";
import { renderResult } from "./render.js";

const $ = (id) => document.getElementById(id);
const ui = {
  tabs: $("tabs"), panel: $("panel"), model: $("model"), card: $("card"), options: $("options"),
  go: $("go"), drop: $("drop"), file: $("file"), camera: $("camera"), mic: $("mic"), fps: $("fps"),
  gallery: $("gallery"), status: $("status"), error: $("error"), canvas: $("canvas"),
  legend: $("legend"), output: $("output"), timing: $("timing"), video: $("video"),
};
const state = { routes: [], models: [], samples: [], cards: new Map(), route: null,
  request: 0, camera: null, recorder: null };

// --- the task routes, from the server's own OpenAPI description ---

function titleOf(operation, kind) {
  const name = (operation.summary || kind).split(":")[0];
  return name.replace(/([a-z])([A-Z])/g, "$1 $2").replace(/^./, (c) => c.toUpperCase());
}

function routesFrom(openapi) {
  return Object.entries(openapi.paths)
    .filter(([path, operations]) => /^\/tasks\/\w+$/.test(path) && operations.post)
    .map(([path, { post }]) => ({
      kind: path.split("/")[2], title: titleOf(post, path.split("/")[2]),
      task: post["x-striate-task"], media: post["x-striate-media"],
      options: (post.parameters || []).filter((p) => !["model", "version"].includes(p.name)),
    }));
}

// --- tabs (WAI-ARIA tabs: arrow keys move between them) ---

function buildTabs() {
  ui.tabs.replaceChildren(...state.routes.map((route, index) => {
    const tab = document.createElement("button");
    tab.type = "button";
    tab.role = "tab";
    tab.id = `tab-${route.kind}`;
    tab.textContent = route.title;
    tab.setAttribute("aria-controls", "panel");
    tab.addEventListener("click", () => selectTab(route.kind));
    tab.addEventListener("keydown", (event) => {
      const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
      if (!step) return;
      const next = state.routes[(index + step + state.routes.length) % state.routes.length];
      selectTab(next.kind);
      $(`tab-${next.kind}`).focus();
    });
    return tab;
  }));
}

function selectTab(kind) {
  const route = state.routes.find((r) => r.kind === kind) || state.routes[0];
  stopLive();
  state.route = route;
  state.request += 1;  // a result still on its way belongs to the old tab
  history.replaceState(null, "", `#${route.kind}`);
  for (const tab of ui.tabs.children) {
    const selected = tab.id === `tab-${route.kind}`;
    tab.setAttribute("aria-selected", String(selected));
    tab.tabIndex = selected ? 0 : -1;
  }
  ui.panel.setAttribute("aria-labelledby", `tab-${route.kind}`);
  ui.file.accept = `${route.media}/*`;
  // a task without a file (analogy, play) runs on its options alone
  ui.go.hidden = Boolean(route.media);
  ui.go.textContent = `Run ${route.title.toLowerCase()}`;
  for (const node of [ui.drop, ui.gallery, $("samples-heading"), ui.canvas.parentElement]) {
    node.hidden = !route.media;
  }
  ui.camera.hidden = route.media !== "image";
  ui.mic.hidden = route.media !== "audio";
  buildModelPicker(route);
  buildOptions(route);
  buildGallery(route);
  clearResult();
  ui.status.textContent = "";
}

// --- model picker and card ---

function buildModelPicker(route) {
  const models = state.models.filter((m) => m.task === route.task);
  ui.model.replaceChildren(...models.map((m) => new Option(
    `${m.name}${m.isDefault ? " (default)" : ""}`, m.name, m.isDefault, m.isDefault)));
  ui.model.disabled = !models.length;
  if (!models.length) {
    ui.card.textContent = route.task === "speech"
      ? "No speech model is loaded. Build Whisper once with 'make speech-model', then restart."
      : `No model serving ${route.task} is loaded.`;
    return;
  }
  showCard(ui.model.value);
}

async function showCard(name) {
  if (!state.cards.has(name)) {
    state.cards.set(name, getJson(`/models/${encodeURIComponent(name)}/card`).catch(() => null));
  }
  const card = await state.cards.get(name);
  if (ui.model.value !== name) return;
  ui.card.replaceChildren();
  const model = state.models.find((m) => m.name === name);
  const title = document.createElement("strong");
  title.textContent = card?.title || name;
  const summary = document.createElement("p");
  summary.textContent = card?.summary || model?.description || "";
  ui.card.append(title, summary);
  if (card?.license) {
    const license = document.createElement("p");
    license.textContent = `License: ${card.license}`;
    ui.card.append(license);
  }
  if (card?.metrics?.length) {
    const table = document.createElement("table");
    table.setAttribute("aria-label", "held-out results");
    for (const [metric, value] of card.metrics.slice(0, 3)) {
      const row = table.insertRow();
      row.insertCell().textContent = metric;
      row.insertCell().textContent = value;
    }
    ui.card.append(table);
  }
}

// --- options (the route's query parameters) ---

function buildOptions(route) {
  ui.options.replaceChildren(...route.options.map((option) => {
    const field = document.createElement("div");
    field.className = "field";
    const label = document.createElement("label");
    label.htmlFor = `option-${option.name}`;
    label.textContent = option.name.replace(/_/g, " ");
    const input = document.createElement("input");
    input.id = `option-${option.name}`;
    input.name = option.name;
    const type = option.schema?.type;
    input.type = { integer: "number", number: "number", boolean: "checkbox" }[type] || "text";
    if (type === "number") input.step = "any";
    if (option.name === "question") input.placeholder = "what is the red shape?";
    if (option.name === "text") input.placeholder = "Hello world";
    field.append(label, input);
    return field;
  }));
}

function optionValues() {
  const values = { model: ui.model.value };
  for (const input of ui.options.querySelectorAll("input")) {
    values[input.name] = input.type === "checkbox" ? (input.checked ? "true" : "") : input.value;
  }
  return values;
}

// --- samples ---

function buildGallery(route) {
  const samples = state.samples.filter((s) => s.kind === route.kind && s.served);
  if (!samples.length) {
    ui.gallery.textContent = "No samples for the models loaded.";
    return;
  }
  ui.gallery.replaceChildren(...samples.map((sample) => {
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.sample = `${sample.model}/${sample.name}`;
    button.title = `${sample.name} (${sample.model})`;
    const thumb = route.media === "image" ? new Image() : document.createElement("span");
    if (route.media === "image") {
      thumb.src = sample.url;
      thumb.alt = "";
      thumb.loading = "lazy";
    } else {
      thumb.className = "audio-thumb";
      thumb.textContent = "♪";
      thumb.setAttribute("aria-hidden", "true");
    }
    const caption = document.createElement("span");
    caption.textContent = sample.name;
    button.append(thumb, caption);
    button.addEventListener("click", () => runSample(sample));
    return button;
  }));
}

async function runSample(sample) {
  if ([...ui.model.options].some((o) => o.value === sample.model)) ui.model.value = sample.model;
  showCard(ui.model.value);
  for (const [name, value] of Object.entries(sample.options)) {
    const input = $(`option-${name}`);
    if (input) input.value = value;
  }
  const response = await fetch(sample.url);
  const blob = await response.blob();
  run(new File([blob], sample.file, { type: blob.type }));
}

// --- running a request and showing its result ---

function clearResult() {
  ui.error.hidden = true;
  ui.error.textContent = "";
  ui.legend.replaceChildren();
  ui.output.replaceChildren();
  ui.timing.textContent = "";
}

function showError(message) {
  ui.error.textContent = message;
  ui.error.hidden = false;
}

async function showInput(file) {
  if (!file) return {};
  if (state.route.media === "audio") {
    const audio = await decodeAudio(file);
    if (audio) drawWaveform(ui.canvas, audio);
    return { audio };
  }
  try {
    const image = await createImageBitmap(file);
    return { image, scale: drawImage(ui.canvas, image) };
  } catch {
    return {};  // not an image the browser can read: the server says what is wrong with it
  }
}

async function run(file) {
  const route = state.route;
  const request = ++state.request;
  clearResult();
  const input = await showInput(file);
  const started = performance.now();
  const ticker = setInterval(() => {
    ui.status.textContent = `${route.title}: working… ${((performance.now() - started) / 1000)
      .toFixed(1)} s`;
  }, 100);
  ui.status.textContent = file ? `${route.title}: sending ${file.name || "the file"}…`
    : `${route.title}: asking the server…`;
  document.body.setAttribute("aria-busy", "true");
  document.body.dataset.result = "busy";
  try {
    const { result, serverMs, roundTripMs } = await runTask(route.kind, file, optionValues());
    if (request !== state.request) return;
    await renderResult(result, { ...ui, ...input });
    ui.status.textContent = `${route.title}: done (${result.model?.name ?? ""})`;
    ui.timing.textContent = `server ${serverMs === null ? "?" : serverMs.toFixed(1)} ms · ` +
      `round trip ${roundTripMs.toFixed(1)} ms`;
    document.body.dataset.result = "done";
  } catch (error) {
    if (request !== state.request) return;
    ui.status.textContent = `${route.title}: failed`;
    showError(error instanceof ApiError ? error.message : `the page failed: ${error.message}`);
    if (error.status === 401) askForToken();
    document.body.dataset.result = "error";
  } finally {
    clearInterval(ticker);
    document.body.removeAttribute("aria-busy");
  }
}

// --- uploads: picker, drag and drop, paste ---

function wireUploads() {
  ui.go.addEventListener("click", () => run(null));
  ui.drop.addEventListener("click", () => ui.file.click());
  ui.drop.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      ui.file.click();
    }
  });
  ui.file.addEventListener("change", () => {
    if (ui.file.files[0]) run(ui.file.files[0]);
    ui.file.value = "";
  });
  ui.drop.addEventListener("dragover", (event) => {
    event.preventDefault();
    ui.drop.classList.add("over");
  });
  ui.drop.addEventListener("dragleave", () => ui.drop.classList.remove("over"));
  ui.drop.addEventListener("drop", (event) => {
    event.preventDefault();
    ui.drop.classList.remove("over");
    const file = event.dataTransfer.files[0];
    if (file) run(file);
  });
  document.addEventListener("paste", (event) => {
    const file = [...(event.clipboardData?.files || [])][0];
    if (file) {
      event.preventDefault();
      run(file);
    }
  });
  ui.model.addEventListener("change", () => showCard(ui.model.value));
}

// --- live input: camera and microphone ---

function stopLive() {
  state.camera?.stop();
  state.camera = null;
  ui.camera.textContent = "Start camera";
  ui.camera.setAttribute("aria-pressed", "false");
  ui.fps.textContent = "";
  if (state.recorder) state.recorder.stop();
  state.recorder = null;
  ui.mic.textContent = "Record from microphone";
  ui.mic.setAttribute("aria-pressed", "false");
}

async function toggleCamera() {
  if (state.camera) {
    stopLive();
    return;
  }
  const route = state.route;
  clearResult();
  const camera = new LiveCamera(ui.video, {
    onFps: (fps) => { ui.fps.textContent = `${fps.toFixed(1)} frames/s`; },
    onError: (message) => { showError(message); stopLive(); },
    onResult: async (frame, message) => {
      if (state.camera !== camera) return;
      if (message.error) {
        showError(message.error);
        return;
      }
      ui.error.hidden = true;
      const scale = drawImage(ui.canvas, frame);
      await renderResult(message.result, { ...ui, image: frame, scale });
      ui.timing.textContent = `server ${message.serverMs.toFixed(1)} ms per frame`;
      ui.output.dataset.frames = String(Number(ui.output.dataset.frames || 0) + 1);
    },
  });
  state.camera = camera;
  ui.camera.textContent = "Stop camera";
  ui.camera.setAttribute("aria-pressed", "true");
  ui.output.dataset.frames = "0";
  try {
    await camera.start(route.kind, optionValues());
    ui.status.textContent = `${route.title}: live from the camera`;
  } catch (error) {
    stopLive();
    showError(`the camera could not start (${error.message}); allow the page to use it`);
  }
}

async function toggleMicrophone() {
  if (state.recorder) {
    const recorder = state.recorder;
    state.recorder = null;
    stopLive();
    const { samples, sampleRate } = await recorder.stop();
    if (!samples.length) {
      showError("nothing was recorded; check that the microphone is connected and allowed");
      return;
    }
    run(new File([encodeWav(samples, sampleRate)], "recording.wav", { type: "audio/wav" }));
    return;
  }
  clearResult();
  const recorder = new Recorder((samples, sampleRate) => {
    drawWaveform(ui.canvas, { samples, sampleRate, duration: samples.length / sampleRate });
    ui.status.textContent = `recording… ${(samples.length / sampleRate).toFixed(1)} s`;
  });
  try {
    await recorder.start();
  } catch (error) {
    showError(`the microphone could not start (${error.message}); allow the page to use it`);
    return;
  }
  state.recorder = recorder;
  ui.mic.textContent = "Stop and transcribe";
  ui.mic.setAttribute("aria-pressed", "true");
}

// --- start ---

// A server locked with tokens answers 401: ask for one, keep it for this tab, start again.
function askForToken() {
  const form = $("token-form");
  form.hidden = false;
  $("token").focus();
  form.onsubmit = (event) => {
    event.preventDefault();
    setToken($("token").value.trim());
    form.hidden = true;
    ui.error.hidden = true;
    start();
  };
}

async function start() {
  try {
    const [openapi, list, samples] = await Promise.all([
      getJson("/openapi.json"), getJson("/tasks"), getJson("/samples")]);
    state.routes = routesFrom(openapi);
    state.models = list.models || [];
    state.samples = samples.samples || [];
  } catch (error) {
    showError(`the page could not load the server's task list: ${error.message}`);
    if (error.status === 401 || error.status === 403) askForToken();
    return;
  }
  if (document.body.dataset.ready) {  // started again with a token
    selectTab(state.route?.kind || location.hash.slice(1));
    return;
  }
  buildTabs();
  wireUploads();
  ui.camera.addEventListener("click", toggleCamera);
  ui.mic.addEventListener("click", toggleMicrophone);
  selectTab(location.hash.slice(1));
  window.addEventListener("hashchange", () => selectTab(location.hash.slice(1)));
  document.body.dataset.ready = "true";
}

start();

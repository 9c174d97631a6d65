// visualizer live page: draws the frames the server streams, plays the track, reports its
// clock, and sends parameter changes. The visuals follow the <audio> element's currentTime:
// the page reports it ~10 times a second and on every play/pause/seek. One page owns the clock
// (the first to report; the state names it by the page's random id): every other control page
// keeps its player silent, so two windows never fight over the position.
"use strict";

const $ = (id) => document.getElementById(id);
const canvas = $("view");
const ctx = canvas.getContext("2d");
const audio = $("audio");
// Exposed for tests and for the curious: counters of what the page received and drew.
const live = (window.live = { frames: 0, lastHeader: null, state: null, messages: [], latency: null,
  id: Math.random().toString(36).slice(2, 10) + Date.now().toString(36), role: "control" });
let socket = null;
let drawing = false;
let pending = null; // newest undrawn frame; an older undrawn one is simply replaced

function resize() {
  canvas.width = window.innerWidth * devicePixelRatio;
  canvas.height = window.innerHeight * devicePixelRatio;
}
window.addEventListener("resize", resize);
resize();

function connect() {
  socket = new WebSocket(`ws://${location.host}/ws`);
  socket.binaryType = "arraybuffer";
  socket.onmessage = (event) => (typeof event.data === "string" ? onText(event.data) : onFrame(event.data));
  socket.onopen = sendClock;
  socket.onclose = () => setTimeout(connect, 1000);
}

function send(message) {
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
}

function onFrame(buffer) {
  const length = new DataView(buffer).getUint32(0);
  const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 4, length)));
  pending = { header, blob: new Blob([new Uint8Array(buffer, 4 + length)], { type: "image/jpeg" }) };
  if (!drawing) drawNext();
}

async function drawNext() {
  drawing = true;
  while (pending) {
    const { header, blob } = pending;
    pending = null;
    const bitmap = await createImageBitmap(blob);
    const side = Math.min(canvas.width / bitmap.width, canvas.height / bitmap.height);
    const w = bitmap.width * side, h = bitmap.height * side;
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.drawImage(bitmap, (canvas.width - w) / 2, (canvas.height - h) / 2, w, h);
    bitmap.close();
    live.frames += 1;
    live.lastHeader = header;
    // when each frame was drawn (ms since the epoch): tests compare pages on one clock
    live.drawn = [...(live.drawn || []).slice(-199), [performance.timeOrigin + performance.now(), header.index]];
    // audio-to-frame latency as the viewer sees it: what the ear hears now minus the frame's time
    live.latency = hasTrack() && !audio.paused ? (audio.currentTime - header.t) * 1000 : header.latency_ms;
    $("fps").textContent = `${header.render_fps.toFixed(0)} fps`;
    $("latency").textContent = `${Math.round(live.latency)} ms`;
    $("dropped").textContent = `${header.dropped} dropped`;
    surfaceFrame(header);
  }
  drawing = false;
}

function onText(text) {
  const message = JSON.parse(text);
  live.messages.push(message.type);
  if (message.type === "state") showState(message);
  else if (message.type === "classes") showClasses(message.results);
  else if (message.type === "saved") note(`saved ${message.path}`, false);
  else if (message.type === "error") note(message.message, true);
}

function note(text, bad) {
  $("message").textContent = text;
  $("message").style.color = bad ? "#f88" : "#8f8";
}

// -- the track and its clock ------------------------------------------------------------------
function hasTrack() {
  return live.state && live.state.track;
}

function ownsClock() {
  const owner = live.state ? live.state.clock_owner : null;
  return owner === null || owner === live.id;
}

function sendClock() {
  if (hasTrack() && ownsClock() && audio.src) {
    send({ type: "clock", t: audio.currentTime, playing: !audio.paused && !audio.ended, page: live.id });
  }
}

function followOwner() {
  // another page plays the track: stay silent here, offer to take over
  const other = hasTrack() && !ownsClock();
  $("take-clock").hidden = !other;
  if (other && !audio.paused) audio.pause();
}

$("take-clock").onclick = () => {
  send({ type: "take_clock", page: live.id });
  if (!audio.src) audio.src = "/track";
  if (live.state.clock !== null) audio.currentTime = live.state.clock;
  audio.play().catch(() => ($("play").hidden = false));
};

for (const name of ["play", "pause", "seeked", "ended", "playing", "waiting"]) {
  audio.addEventListener(name, sendClock);
}
setInterval(sendClock, 100);

function startTrack() {
  if (audio.src || !hasTrack() || !ownsClock()) return;
  audio.src = "/track";
  audio.play().catch(() => ($("play").hidden = false)); // autoplay refused: offer a button
}
$("play").onclick = () => audio.play().then(() => ($("play").hidden = true));

// -- parameters -------------------------------------------------------------------------------
let shownVersion = -1;

function showState(state) {
  live.state = state;
  audio.hidden = !state.track;
  startTrack();
  followOwner();
  $("source").textContent = state.source;
  $("bpm").textContent = state.beat.bpm ? `${state.beat.bpm.toFixed(1)} BPM` : "";
  surfaceState(state);
  if (state.version === shownVersion) return;
  shownVersion = state.version;
  const form = $("params");
  form.replaceChildren(...state.params.map(control));
}

function control(spec) {
  const label = document.createElement("label");
  label.dataset.target = spec.key; // MIDI learn binds a knob to this key
  label.title = spec.help || "";
  label.append(spec.key);
  const input = document.createElement("input");
  input.name = spec.key;
  label.append(input);
  const shown = document.createElement("output");
  if (spec.kind === "number" || spec.kind === "integer") {
    Object.assign(input, { type: "range", min: spec.min, max: spec.max, step: spec.step, value: spec.value });
    shown.textContent = spec.value;
    input.oninput = () => {
      shown.textContent = input.value;
      send({ type: "set", key: spec.key, value: Number(input.value) });
    };
  } else if (spec.kind === "choice") {
    const select = document.createElement("select");
    select.name = spec.key;
    for (const choice of spec.choices) select.add(new Option(choice, choice, false, choice === spec.value));
    select.onchange = () => send({ type: "set", key: spec.key, value: select.value });
    input.replaceWith(select);
  } else if (spec.kind === "bool") {
    Object.assign(input, { type: "checkbox", checked: spec.value });
    input.onchange = () => send({ type: "set", key: spec.key, value: input.checked });
  } else {
    Object.assign(input, { type: "text", value: spec.kind === "list" ? spec.value.join(",") : spec.value });
    input.onchange = () => send({ type: "set", key: spec.key, value: input.value });
  }
  label.append(shown);
  if (!spec.help) return label;
  const help = document.createElement("small"); // the schema's own words for the key
  help.className = "help";
  help.textContent = spec.help;
  label.append(help);
  return label;
}

function classListKey() {
  const spec = (live.state?.params || []).find((p) => p.kind === "list" && p.key.startsWith("classes."));
  return spec ? spec.key : null;
}

$("search").oninput = () => send({ type: "search", text: $("search").value });

function showClasses(results) {
  $("results").replaceChildren(
    ...results.map(([index, name]) => {
      const item = document.createElement("li");
      item.textContent = `${name} (${index})`;
      item.onclick = () => {
        const key = classListKey();
        if (!key) return note("this preset has no class list", true);
        const current = live.state.params.find((p) => p.key === key).value;
        send({ type: "set", key, value: [...current, name].join(",") });
      };
      return item;
    }),
  );
}

// -- buttons (the keyboard shortcuts are in surface.js) --------------------------------------
$("tapclear").onclick = () => send({ type: "tap_clear" });
$("save").onclick = () => send({ type: "save", name: $("savename").value });
$("toggle").onclick = () => ($("panel").hidden = !$("panel").hidden);
$("fullscreen").onclick = () => document.documentElement.requestFullscreen().catch(() => {});
document.addEventListener("fullscreenchange", () =>
  document.body.classList.toggle("fullscreen", !!document.fullscreenElement),
);
connect();

// visualizer live: the performing surface. The beat (bar:beat blocks, tempo source, cue, nudge,
// x2 and /2, beats per bar, latency), launches (quantisation, the pending launch, the next
// scene's thumbnail, crossfade progress, auto-cycle), scenes with a crossfade, master faders,
// tap and the beat lamp, freeze / blackout / next palette, theme and class pickers, the input
// meter and calibration, MIDI learn, and the keyboard shortcuts (one table: the keys that work
// are the keys printed on the page).
// app.js owns the socket and calls surfaceState(state) and surfaceFrame(header).
"use strict";

const MASTERS = [
  ["reactivity", "how hard the music pushes the picture"],
  ["motion", "how far the latent travels"],
  ["truncation", "variety of the images (lower: cleaner)"],
];
const surface = (window.surface = { learning: false, beats: 0, onsets: 0, state: null });

function act(action) {
  send({ type: "action", action });
}

function scene(step) {
  const scenes = surface.state?.scenes || [];
  const index = scenes.indexOf(currentScene());
  if (!scenes.length) return;
  const next = index < 0 ? (step > 0 ? 0 : scenes.length - 1) : (index + step + scenes.length) % scenes.length;
  playScene(scenes[next]);
}

function playScene(name) {
  send({ type: "preset", name, fade: Number(document.getElementById("crossfade").value) });
}

const QUANTIZE = ["now", "beat", "bar", "2bars", "4bars"];
const CALIBRATION = [
  ["gain", 0, 8, 0.05, "input gain (x1 = as captured)"],
  ["low", 0, 4, 0.05, "bass sensitivity"],
  ["mid", 0, 4, 0.05, "mid sensitivity"],
  ["high", 0, 4, 0.05, "treble sensitivity"],
  ["av_offset_ms", -500, 500, 5, "A/V offset in ms (+: picture later)"],
];

function buildBeat() {
  const byId = (id) => document.getElementById(id);
  byId("quantize").replaceChildren(...QUANTIZE.map((q) => new Option(q, q)));
  byId("quantize").onchange = () => send({ type: "quantize", value: byId("quantize").value });
  byId("tempo-source").onchange = () => send({ type: "tempo", name: "source", value: byId("tempo-source").value });
  byId("bpb").onchange = () => send({ type: "tempo", name: "beats_per_bar", value: Number(byId("bpb").value) });
  byId("latency-ms").onchange = () => send({ type: "tempo", name: "latency_ms", value: Number(byId("latency-ms").value) });
  const cycle = () => send({ type: "cycle", bars: Number(byId("cycle-bars").value), mode: byId("cycle-mode").value });
  byId("cycle-bars").onchange = cycle;
  byId("cycle-mode").onchange = cycle;
  byId("calibration").replaceChildren(...CALIBRATION.map(([name, min, max, step, help]) => {
    const label = Object.assign(document.createElement("label"), { className: "fader", title: help });
    const input = Object.assign(document.createElement("input"), { type: "range", min, max, step, name: `input.${name}` });
    const shown = document.createElement("output");
    input.oninput = () => {
      shown.textContent = input.value;
      send({ type: "input", name, value: Number(input.value) });
    };
    label.append(name, input, shown);
    return label;
  }));
}

function showBeat(state) {
  const beat = state.beat;
  const byId = (id) => document.getElementById(id);
  const select = byId("tempo-source");
  if (select.options.length !== beat.sources.length) {
    select.replaceChildren(...beat.sources.map((name) => new Option(name, name)));
  }
  select.value = beat.source;
  for (const [id, value] of [["quantize", state.quantize], ["bpb", beat.beats_per_bar],
    ["latency-ms", beat.latency_ms], ["cycle-bars", state.cycle.bars], ["cycle-mode", state.cycle.mode]]) {
    const input = byId(id);
    if (document.activeElement !== input) input.value = value;
  }
  const detail = beat.detail || {};
  byId("tempo-detail").textContent = [beat.playing ? "" : "stopped", detail.port || "",
    detail.peers !== undefined ? `${detail.peers} peers` : ""].filter(Boolean).join(" · ");
  for (const id of ["cue", "nudge-back", "nudge-forward"]) byId(id).disabled = beat.shares_phase;
  const pending = state.pending;
  byId("pending").textContent = pending ? `next: ${pending.label} on ${pending.quantize}${pending.at ? ` (${pending.at})` : ""}` : "";
  byId("pending").classList.toggle("blink", !!pending);
  if (state.cue && state.cue.version !== surface.cueVersion) {
    surface.cueVersion = state.cue.version;
    byId("cue-image").src = `/cue.jpg?v=${state.cue.version}`;
  }
  byId("cue-name").textContent = state.cue ? state.cue.name : "-";
  const input = state.input;
  if (input) {
    byId("meter").value = Math.max(-60, input.peak_db);
    byId("meter-text").textContent = `peak ${input.peak_db} dB · rms ${input.rms_db} dB`;
    for (const [name] of CALIBRATION) {
      const slider = document.querySelector(`input[name="input.${name}"]`);
      if (slider && !slider.matches(":active")) {
        slider.value = input[name];
        slider.nextElementSibling.textContent = input[name];
      }
    }
  }
}

function showCounter(header) {
  // bar:beat and one block per beat of the bar, from the frame shown
  if (header.bar === undefined) return;
  const text = header.playing ? `${header.bar}:${header.beat_in_bar}` : "-:-";
  document.getElementById("bar-beat").textContent = text;
  document.getElementById("counter").textContent = text;
  const perBar = surface.state?.beat?.beats_per_bar || 4;
  const blocks = document.getElementById("blocks");
  if (blocks.children.length !== perBar) {
    blocks.replaceChildren(...Array.from({ length: perBar }, (_, i) =>
      Object.assign(document.createElement("span"), { className: i === 0 ? "down" : "" })));
  }
  [...blocks.children].forEach((block, i) => block.classList.toggle("on", header.playing && i === header.beat_in_bar - 1));
  const fade = document.getElementById("fade-progress");
  fade.value = header.fade >= 0 ? header.fade : 0;
}

function currentScene() {
  const source = surface.state?.source || "";
  return source.endsWith(".toml") ? source.split("/").pop().slice(0, -5) : source;
}

// [keys shown, what they do, the keys, the handler]
const SHORTCUTS = [
  ["t / space", "tap tempo", ["t", " "], () => act("tap")],
  ["1 - 9", "play scene 1 - 9", ["1", "2", "3", "4", "5", "6", "7", "8", "9"],
    (key) => { const s = surface.state?.scenes || []; if (s[key - 1]) playScene(s[key - 1]); }],
  ["← / →", "previous / next scene", ["ArrowLeft", "ArrowRight"], (key) => scene(key === "ArrowLeft" ? -1 : 1)],
  ["p", "next palette", ["p"], () => act("next_palette")],
  ["c", "cue: this beat is 1", ["c"], () => act("cue")],
  ["[ / ]", "nudge the beat later / earlier", ["[", "]"], (key) => act(key === "[" ? "nudge_back" : "nudge_forward")],
  ["z", "freeze", ["z"], () => act("freeze")],
  ["b", "blackout", ["b"], () => act("blackout")],
  ["l", "MIDI learn on / off", ["l"], () => setLearning(!surface.learning)],
  ["Esc", "cancel MIDI learn", ["Escape"], () => setLearning(false)],
  ["f", "full screen", ["f"], () => document.getElementById("fullscreen").click()],
  ["h", "show / hide the controls", ["h"], () => document.getElementById("toggle").click()],
];

function buildSurface() {
  buildBeat();
  const masters = document.getElementById("masters");
  for (const [name, help] of MASTERS) {
    const label = document.createElement("label");
    label.className = "fader";
    label.dataset.target = `master.${name}`;
    label.title = `${help} (double-click: back to 1)`;
    const input = Object.assign(document.createElement("input"), { type: "range", min: 0, max: 2, step: 0.01, value: 1 });
    input.name = `master.${name}`;
    const shown = document.createElement("output");
    shown.textContent = "×1.00";
    input.oninput = () => {
      shown.textContent = `×${Number(input.value).toFixed(2)}`;
      send({ type: "master", name, value: Number(input.value) });
    };
    input.ondblclick = () => {
      input.value = 1;
      input.oninput();
    };
    label.append(name, input, shown);
    masters.append(label);
  }
  const crossfade = document.getElementById("crossfade");
  crossfade.parentElement.dataset.target = "crossfade";
  crossfade.oninput = () => {
    document.getElementById("crossfade-value").textContent = `${crossfade.value} s`;
    send({ type: "crossfade", seconds: Number(crossfade.value) });
  };
  for (const button of document.querySelectorAll("[data-action]")) {
    button.dataset.target = button.dataset.action;
    button.onclick = () => act(button.dataset.action);
  }
  document.getElementById("theme-search").oninput = () => showThemes(surface.state);
  document.getElementById("learn").onclick = () => setLearning(!surface.learning);
  document.getElementById("shortcuts").replaceChildren(
    ...SHORTCUTS.flatMap(([keys, what]) => {
      const term = document.createElement("dt");
      const description = document.createElement("dd");
      term.textContent = keys;
      description.textContent = what;
      return [term, description];
    }),
  );
  // learn mode: a click on a control arms it instead of acting (capture runs first); the press
  // is stopped too, or a fader would jump to where it was touched
  const panel = document.getElementById("panel");
  panel.addEventListener("click", onLearnClick, true);
  for (const name of ["pointerdown", "mousedown"]) panel.addEventListener(name, holdInLearn, true);
  document.addEventListener("keydown", onKey);
}

function onKey(event) {
  if (["INPUT", "SELECT", "TEXTAREA"].includes(event.target.tagName) && event.key !== "Escape") return;
  for (const [, , keys, handler] of SHORTCUTS) {
    if (keys.includes(event.key)) {
      event.preventDefault();
      handler(event.key);
      return;
    }
  }
}

// -- MIDI learn -------------------------------------------------------------------------------
function setLearning(on) {
  if (on && !surface.state?.midi) return note("MIDI is off: start live mode with --midi", true);
  surface.learning = on;
  document.body.classList.toggle("learning", on);
  document.getElementById("learn").classList.toggle("active", on);
  if (!on) send({ type: "learn", target: null });
  document.getElementById("learn-status").textContent = on ? "click a control on this page" : "";
}

function holdInLearn(event) {
  if (surface.learning && event.target.id !== "learn" && event.target.closest("[data-target]")) {
    event.preventDefault();
  }
}

function onLearnClick(event) {
  if (!surface.learning || event.target.id === "learn") return;
  const element = event.target.closest("[data-target]");
  if (!element) return;
  event.preventDefault();
  event.stopPropagation();
  send({ type: "learn", target: element.dataset.target });
  document.getElementById("learn-status").textContent = `move a knob or hit a pad for ${element.dataset.target}`;
}

// -- state and frames -------------------------------------------------------------------------
function surfaceState(state) {
  surface.state = state;
  showBeat(state);
  showScenes(state);
  showThemes(state);
  showMidi(state.midi);
  for (const [name] of MASTERS) {
    const input = document.querySelector(`input[name="master.${name}"]`);
    // a fader follows MIDI and other pages, except while this page's user holds it
    if (input && !input.matches(":active") && Number(input.value) !== state.masters[name]) {
      input.value = state.masters[name];
      input.nextElementSibling.textContent = `×${state.masters[name].toFixed(2)}`;
    }
  }
  const crossfade = document.getElementById("crossfade");
  if (!crossfade.matches(":active")) {
    crossfade.value = state.crossfade_s;
    document.getElementById("crossfade-value").textContent = `${state.crossfade_s} s`;
  }
  document.getElementById("freeze").classList.toggle("active", state.frozen);
  document.getElementById("blackout").classList.toggle("active", state.blackout);
  document.getElementById("flags").textContent = [state.frozen && "FROZEN", state.blackout && "BLACKOUT"]
    .filter(Boolean).join(" ");
}

function showScenes(state) {
  const current = currentScene();
  const buttons = state.scenes.map((name, i) => {
    const button = document.createElement("button");
    button.textContent = i < 9 ? `${i + 1} ${name}` : name;
    button.dataset.scene = name;
    button.dataset.target = `scene:${name}`;
    button.classList.toggle("active", name === current);
    button.classList.toggle("armed", state.pending?.scene === name || state.pending?.label === name);
    button.onclick = () => playScene(name);
    return button;
  });
  document.getElementById("scenes").replaceChildren(...buttons);
}

function showThemes(state) {
  if (!state) return;
  const filter = document.getElementById("theme-search").value.trim().toLowerCase();
  const names = (state.params.find((p) => p.key === "classes.names") || { value: [] }).value;
  const buttons = state.themes
    .filter(([name, description]) => !filter || `${name} ${description}`.toLowerCase().includes(filter))
    .map(([name, description]) => {
      const button = document.createElement("button");
      button.textContent = name;
      button.title = description;
      button.dataset.theme = name;
      button.classList.toggle("active", names.length === 1 && names[0] === name);
      button.onclick = () => send({ type: "set", key: "classes.names", value: name });
      return button;
    });
  document.getElementById("themes").replaceChildren(...buttons);
}

function showMidi(midi) {
  document.getElementById("learn").disabled = !midi;
  document.getElementById("midi-port").textContent = midi ? `${midi.port || "no port"} · map ${midi.map}` : "off (start with --midi)";
  if (!midi) return;
  if (surface.learning && !midi.learning && midi.learned && midi.learned !== surface.learned) {
    document.getElementById("learn-status").textContent = `bound: ${midi.learned}`;
  }
  surface.learned = midi.learned;
  document.getElementById("bindings").replaceChildren(
    ...midi.bindings.map((text) => Object.assign(document.createElement("li"), { textContent: text })),
  );
}

function surfaceFrame(header) {
  showCounter(header);
  flash("beat", header.beats, "beats");
  flash("onset", header.onsets, "onsets");
}

function flash(id, count, key) {
  if (count === undefined || count === surface[key]) return;
  surface[key] = count;
  const lamp = document.getElementById(id);
  lamp.classList.add("on");
  setTimeout(() => lamp.classList.remove("on"), 120);
}

buildSurface();

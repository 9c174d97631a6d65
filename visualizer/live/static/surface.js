// visualizer live: the performing surface. Scenes with a crossfade, master faders, tap and the
// beat lamp, freeze / blackout / next palette, theme and class pickers, MIDI learn, and the
// keyboard shortcuts (one table: the keys that work are the keys printed on the page).
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
  ["z", "freeze", ["z"], () => act("freeze")],
  ["b", "blackout", ["b"], () => act("blackout")],
  ["l", "MIDI learn on / off", ["l"], () => setLearning(!surface.learning)],
  ["Esc", "cancel MIDI learn", ["Escape"], () => setLearning(false)],
  ["f", "full screen", ["f"], () => document.getElementById("fullscreen").click()],
  ["h", "show / hide the controls", ["h"], () => document.getElementById("toggle").click()],
];

function buildSurface() {
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

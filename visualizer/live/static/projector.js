// visualizer live, the output page: the picture and nothing else (for the projector or a
// capture card). It plays no sound and never reports a clock: the show's one clock is the
// control page's player, so any number of output and control pages agree on one picture.
"use strict";

const canvas = document.getElementById("view");
const ctx = canvas.getContext("2d");
// Exposed for tests: frames drawn and the newest frame's header.
const live = (window.live = { frames: 0, lastHeader: null, role: "projector" });
let pending = null;
let drawing = false;

function resize() {
  canvas.width = window.innerWidth * devicePixelRatio;
  canvas.height = window.innerHeight * devicePixelRatio;
}
window.addEventListener("resize", resize);
resize();

function connect() {
  const socket = new WebSocket(`ws://${location.host}/ws`);
  socket.binaryType = "arraybuffer";
  socket.onmessage = (event) => {
    if (typeof event.data === "string") return; // state messages: nothing to show here
    const length = new DataView(event.data).getUint32(0);
    const header = JSON.parse(new TextDecoder().decode(new Uint8Array(event.data, 4, length)));
    pending = { header, blob: new Blob([new Uint8Array(event.data, 4 + length)], { type: "image/jpeg" }) };
    if (!drawing) draw();
  };
  socket.onclose = () => setTimeout(connect, 1000);
}

async function draw() {
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
  }
  drawing = false;
}

canvas.onclick = () => document.documentElement.requestFullscreen().catch(() => {});
connect();

"use strict";
// The drawing pad, and what the network makes of it. The page only draws and
// shows: the pad is sent as a PNG to POST /predict, which reads it exactly as
// predict.py reads a file (MNIST's preprocessing, then the network). With "a
// whole number" ticked, the pad is wider and goes to POST /predict?number=1,
// read as predict.py --number reads a file: each digit the network saw is shown.

const pad = document.getElementById("pad");
const ctx = pad.getContext("2d");
const prediction = document.getElementById("prediction");
const statusLine = document.getElementById("status");
const probsBox = document.getElementById("probs");
const seen = document.getElementById("seen");
const digitsBox = document.getElementById("digits");
const numberMode = document.getElementById("number-mode");
const strips = [1, 2].map(i => ({
  canvas: document.getElementById(`hidden${i}`),
  label: document.getElementById(`hidden${i}-label`),
}));

// The pad is drawn at 448x448 pixels (about twice its size on screen, for sharp
// lines on high-density screens). The pen is 6 % of the pad wide: a digit drawn
// across most of the pad then has strokes about 2 pixels wide once scaled to
// MNIST's 20x20 box, as MNIST's own digits do.
const SIZE = 448;
const PEN = 0.06 * SIZE;
const WIDE = 2.5;  // the pad for a whole number: 2.5 times as wide as tall, same pen
// While a stroke goes on, ask at most this often (ms); at its end, at once.
const LIVE_EVERY = 150;
const HINTS = {digit: "Draw a digit from 0 to 9, large, in the box.",
               number: "Write a number, digits side by side, large, in the box."};
const hint = () => HINTS[numberMode.checked ? "number" : "digit"];
// The heading and the tab's title say what the pad is for (index.html has the digit's).
const heading = document.querySelector("header h1");
const HEADINGS = {digit: "Draw a digit", number: "Write a number"};
const SITE = " - MNIST from scratch in NumPy";

let drawn = false;      // is there ink on the pad?
let stroke = null;      // the stroke in progress: {id: pointerId, last: [x, y]}
let timer = null;       // the pending live request
let busy = false;       // one request at a time; ...
let again = false;      // ... with another one wanted once it is answered
let sent = 0;           // number of the last request sent
let cleared = 0;        // answers to requests up to this number are stale

// ---- drawing -----------------------------------------------------------------
function resetPad() {
  pad.width = numberMode.checked ? WIDE * SIZE : SIZE;
  pad.height = SIZE;
  ctx.fillStyle = "#fff";  // a white sheet: the PNG has no transparent pixels
  ctx.fillRect(0, 0, pad.width, pad.height);
  ctx.strokeStyle = ctx.fillStyle = "#111";
  ctx.lineWidth = PEN;
  ctx.lineCap = ctx.lineJoin = "round";
}

function padPoint(event) {  // in the pad's pixels, inside its border
  const box = pad.getBoundingClientRect();
  return [(event.clientX - box.left - pad.clientLeft) * pad.width / pad.clientWidth,
          (event.clientY - box.top - pad.clientTop) * pad.height / pad.clientHeight];
}

function segment(from, to) {
  ctx.beginPath();
  ctx.moveTo(...from);
  ctx.lineTo(...to);
  ctx.stroke();
}

function dot([x, y]) {  // (a line of length 0 draws nothing, round caps or not)
  ctx.beginPath();
  ctx.arc(x, y, PEN / 2, 0, 2 * Math.PI);
  ctx.fill();
}

pad.addEventListener("pointerdown", event => {
  if (event.button !== 0 || stroke) return;  // the main button, finger or pen tip; one at a time
  event.preventDefault();
  pad.setPointerCapture(event.pointerId);  // keep the stroke when it leaves the pad
  stroke = {id: event.pointerId, last: padPoint(event)};
  dot(stroke.last);  // a tap leaves a dot
  drawn = true;
  predictSoon();
});

pad.addEventListener("pointermove", event => {
  if (!stroke || event.pointerId !== stroke.id) return;
  // Fast strokes deliver several positions per frame: draw through all of them.
  const moves = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
  for (const move of moves.length ? moves : [event]) {
    const point = padPoint(move);
    segment(stroke.last, point);
    stroke.last = point;
  }
  predictSoon();
});

function endStroke(event) {
  if (!stroke || event.pointerId !== stroke.id) return;
  stroke = null;
  predictNow();
}
pad.addEventListener("pointerup", endStroke);
pad.addEventListener("pointercancel", endStroke);

function clearAll() {
  resetPad();
  drawn = false;
  stroke = null;
  clearTimeout(timer);
  timer = null;
  cleared = sent;  // an answer still on its way is for the old drawing
  prediction.textContent = "";
  statusLine.textContent = hint();
  showProbs(null);
  showSeen(null);
  showHidden(null);
  showDigits(null);
}
document.getElementById("clear").addEventListener("click", clearAll);
function showMode() {
  const mode = numberMode.checked ? "number" : "digit";
  document.body.classList.toggle("number", numberMode.checked);
  heading.textContent = HEADINGS[mode];
  document.title = HEADINGS[mode] + SITE;
}
numberMode.addEventListener("change", () => {
  showMode();
  clearAll();  // a new pad, of the other shape
});
document.addEventListener("keydown", event => {
  if (["Escape", "Delete", "Backspace"].includes(event.key) && !event.repeat) {
    event.preventDefault();
    clearAll();
  }
});

// ---- asking the network ------------------------------------------------------
function predictSoon() {
  if (timer === null) timer = setTimeout(predictNow, LIVE_EVERY);
}

async function predictNow() {
  clearTimeout(timer);
  timer = null;
  if (!drawn) return;
  if (busy) {
    again = true;
    return;
  }
  busy = true;
  const id = ++sent;
  try {
    const png = await new Promise(resolve => pad.toBlob(resolve, "image/png"));
    const url = numberMode.checked ? "predict?number=1" : "predict";
    const response = await fetch(url, {method: "POST", body: png,
                                       headers: {"Content-Type": "image/png"}});
    const answer = await response.json();
    if (id > cleared) show(answer, response.status);
  } catch (error) {
    if (id > cleared) showError("No answer from the server: is python -m handwriting.serve still running?");
  } finally {
    busy = false;
    if (again) {
      again = false;
      predictNow();
    }
  }
}

function show(answer, status) {
  if (status === 422 && !answer.error.startsWith("too many")) {
    return showError(`Not enough ink to read yet: ${numberMode.checked ? "write a number"
                                                                         : "draw a digit"}.`);
  }
  if (answer.error) return showError(answer.error);
  if (answer.number !== undefined) return showNumber(answer);
  prediction.textContent = String(answer.digit);
  statusLine.textContent = `${(100 * answer.probs[answer.digit]).toFixed(1)} % sure`;
  showProbs(answer.probs);
  showSeen(answer.image);
  showHidden(answer.hidden);
}

function showNumber(answer) {
  prediction.textContent = answer.number;
  const sure = Math.min(...answer.digits.map(d => d.probs[d.digit]));
  const count = answer.digits.length === 1 ? "1 digit" : `${answer.digits.length} digits`;
  statusLine.textContent = `${count}, each at least ${(100 * sure).toFixed(1)} % sure`;
  showDigits(answer.digits);
}

function showError(message) {
  prediction.textContent = "";
  statusLine.textContent = message;
  showProbs(null);
  showSeen(null);
  showHidden(null);
  showDigits(null);
}

// ---- what the network saw and did --------------------------------------------
const bars = Array.from({length: 10}, (_, digit) => {
  const row = document.createElement("div");
  row.className = "prob";
  row.setAttribute("role", "listitem");
  row.innerHTML = `<span class="d">${digit}</span><span class="bar"><span class="fill">` +
                  `</span></span><span class="p"></span>`;
  probsBox.appendChild(row);
  return {row, fill: row.querySelector(".fill"), text: row.querySelector(".p")};
});

function showProbs(probs) {
  const top = probs ? probs.indexOf(Math.max(...probs)) : -1;
  bars.forEach((bar, digit) => {
    const p = probs ? probs[digit] : 0;
    bar.fill.style.transform = `scaleX(${p})`;
    bar.text.textContent = probs ? `${(100 * p).toFixed(1)} %` : "";
    bar.row.classList.toggle("top", digit === top);
  });
}

// A canvas of width x height pixels with the given [r, g, b] colours, row by row.
function paint(canvas, colours, width, height) {
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext("2d");
  const pixels = context.createImageData(width, height);
  colours.forEach((rgb, i) => pixels.data.set([...rgb, 255], 4 * i));
  context.putImageData(pixels, 0, 0);
}

const clamp = v => Math.min(1, Math.max(0, v));
const grey = v => new Array(3).fill(Math.round(255 * clamp(v)));

function showSeen(image) {
  paint(seen, (image ? image.flat() : new Array(28 * 28).fill(0)).map(grey), 28, 28);
}

// Each digit of a number: the 28x28 image the network saw, what it read and how sure.
function showDigits(digits) {
  digitsBox.replaceChildren(...(digits || []).map(d => {
    const figure = document.createElement("figure");
    figure.setAttribute("role", "listitem");
    const canvas = document.createElement("canvas");
    paint(canvas, d.image.flat().map(grey), 28, 28);
    const caption = document.createElement("figcaption");
    const answer = document.createElement("b");
    answer.textContent = String(d.digit);
    caption.append(answer, ` ${(100 * d.probs[d.digit]).toFixed(0)} %`);
    figure.append(canvas, caption);
    return figure;
  }));
}

function showHidden(hidden) {
  strips.forEach((strip, i) => {
    const units = hidden ? hidden[i] : null;
    if (!units) {
      paint(strip.canvas, [[0, 0, 0]], 1, 1);
      strip.label.textContent = `hidden layer ${i + 1}`;
      return;
    }
    // Each unit against the strongest one in its layer.
    const peak = Math.max(...units) || 1;
    paint(strip.canvas, units.map(a => heat(a / peak)), units.length, 1);
    const firing = units.filter(a => a > 0).length;
    strip.label.textContent = `hidden layer ${i + 1}: ${firing} of ${units.length} units fire`;
  });
}

// 0 -> black, then dark red, orange, pale yellow at 1 (like matplotlib's "inferno").
function heat(t) {
  const stops = [[0, 0, 0], [120, 28, 80], [230, 90, 30], [252, 255, 164]];
  const x = clamp(t) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  return stops[i].map((c, k) => Math.round(c + (stops[i + 1][k] - c) * (x - i)));
}

// A reload may keep the box ticked.
showMode();
clearAll();

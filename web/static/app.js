// pianola studio: the form, the cards, polling while a piece is made. Plain JavaScript, no build step.
"use strict";

const form = document.getElementById("make");
const message = document.getElementById("message");
const pieces = document.getElementById("pieces");
const INTEGERS = new Set(["seed", "count", "transpose", "channels"]);
const BOOLEANS = new Set(["loop", "stems"]);
let audioContext = null;

function enumOf(field) {
  const choices = (field.anyOf || [field]).flatMap((option) => option.enum || []);
  return choices;
}

function fillSelect(select, values, labels = {}) {
  for (const value of values) {
    const option = document.createElement("option");
    option.value = value;
    option.textContent = labels[value] || value;
    select.append(option);
  }
}

async function setUp() {
  const options = await (await fetch("/api/options")).json();
  const fields = options.fields;
  fillSelect(form.mood, enumOf(fields.mood));
  fillSelect(form.loudness, ["", ...Object.keys(options.loudness)],
             Object.fromEntries([["", "-16 LUFS (default)"],
                                 ...Object.entries(options.loudness).map(([k, v]) => [k, `${k} (${v} LUFS)`])]));
  fillSelect(form.format, enumOf(fields.format));
  form.format.value = fields.format.default;
  fillSelect(document.getElementById("styles"), options.styles);
  for (const [name, field] of Object.entries(fields)) {  // the same limits as the command line
    const input = form.elements[name];
    const range = (field.anyOf || [field]).find((option) => "minimum" in option) || {};
    if (input && input.type === "number") {
      if ("minimum" in range) input.min = range.minimum;
      if ("maximum" in range) input.max = range.maximum;
    }
  }
  const history = await (await fetch("/api/pieces")).json();
  for (const job of history.reverse()) show(job);
}

async function primerBase64(input) {
  const file = input.files[0];
  if (!file) return null;
  const bytes = new Uint8Array(await file.arrayBuffer());
  let text = "";
  for (let i = 0; i < bytes.length; i += 8192) text += String.fromCharCode(...bytes.subarray(i, i + 8192));
  return btoa(text);
}

async function request() {
  const body = {};
  for (const element of form.elements) {
    if (!element.name) continue;
    if (element.name === "primer") {
      const primer = await primerBase64(element);
      if (primer) body.primer = primer;
      continue;
    }
    if (BOOLEANS.has(element.name)) { body[element.name] = element.checked; continue; }
    if (element.value === "") continue;  // the default
    if (element.type === "number" || INTEGERS.has(element.name)) {
      body[element.name] = INTEGERS.has(element.name) ? parseInt(element.value, 10) : parseFloat(element.value);
    } else {
      body[element.name] = element.value;
    }
  }
  return body;
}

async function submit(event) {
  if (event) event.preventDefault();
  message.textContent = "";
  const response = await fetch("/api/pieces", {
    method: "POST", headers: {"content-type": "application/json"}, body: JSON.stringify(await request()),
  });
  const answer = await response.json();
  if (!response.ok) { message.textContent = answer.detail; return; }
  show(answer);
}

function describe(settings) {
  const parts = [`seed ${settings.seed}`, settings.mood || "no mood", `${settings.duration} s`];
  if (settings.style) parts.splice(2, 0, settings.style);
  if (settings.loop) parts.push("loop");
  if (settings.intro) parts.push(`intro ${settings.intro} s`);
  if (settings.outro) parts.push(`outro ${settings.outro} s`);
  if (settings.bpm) parts.push(`${settings.bpm} bpm`);
  if (settings.transpose) parts.push(`transpose ${settings.transpose}`);
  if (settings.count > 1) parts.push(`${settings.count} pieces`);
  parts.push(settings.loudness || (settings.lufs !== null ? `${settings.lufs} LUFS` : "-16 LUFS"));
  parts.push(settings.channels === 1 ? "mono" : "stereo", settings.format);
  if (settings.stems) parts.push("stems");
  if (settings.primer) {
    parts.push(settings.primer_use === "continue" ? `continues your MIDI (${settings.primer_seconds} s of it)`
               : `like your MIDI (variation ${settings.variation})`);
  }
  return parts.join(" · ");
}

function link(job, name, text) {
  const a = document.createElement("a");
  a.href = `/api/pieces/${job.id}/files/${name}`;
  a.textContent = text;
  a.download = `${job.id}_${name}`;
  return a;
}

async function playSeamlessly(job, name, sidecar, button) {
  audioContext = audioContext || new AudioContext();
  if (button.source) { button.source.stop(); button.source = null; button.textContent = "play seamless loop"; return; }
  const data = await (await fetch(`/api/pieces/${job.id}/files/${name}`)).arrayBuffer();
  const buffer = await audioContext.decodeAudioData(data);
  const loop = await (await fetch(`/api/pieces/${job.id}/files/${sidecar}`)).json();
  const source = audioContext.createBufferSource();
  source.buffer = buffer;
  source.loop = true;  // Web Audio loops sample-accurately, where <audio loop> leaves a gap
  source.loopStart = loop.loop_start_seconds;
  source.loopEnd = loop.loop_start_seconds + loop.loop_length_seconds;
  source.connect(audioContext.destination);
  source.start();
  button.source = source;
  button.textContent = "stop";
}

function render(card, job) {
  card.replaceChildren();
  const title = document.createElement("h2");
  title.textContent = `Piece ${job.id}`;
  const settings = document.createElement("p");
  settings.className = "settings";
  settings.textContent = describe(job.settings);
  card.append(title, settings);
  if (job.status === "queued" || job.status === "running") {
    const status = document.createElement("p");
    status.className = "status";
    status.innerHTML = '<span class="spinner"></span> ';
    status.append(job.status === "running" ? "making it…"
                  : `waiting: ${job.position} piece${job.position === 1 ? "" : "s"} ahead`);
    card.append(status);
    return;
  }
  if (job.status === "failed") {
    const status = document.createElement("p");
    status.className = "status";
    status.textContent = `failed: ${job.error}`;
    card.append(status);
    return;
  }
  const format = job.settings.format;
  const audioFiles = job.files.filter((name) => new RegExp(`^piece(_\\d+)?\\.${format}$`).test(name));
  for (const name of audioFiles) {
    const stem = name.slice(0, -(format.length + 1));
    if (job.files.includes(`${stem}.png`)) {
      const picture = document.createElement("img");
      picture.src = `/api/pieces/${job.id}/files/${stem}.png`;
      picture.alt = `the notes of ${stem}`;
      card.append(picture);
    }
    const player = document.createElement("audio");
    player.controls = true;
    player.preload = "metadata";
    player.loop = job.settings.loop && !job.settings.intro;
    player.src = `/api/pieces/${job.id}/files/${name}`;
    const links = document.createElement("p");
    links.className = "links";
    links.append(link(job, name, `audio (${format})`), link(job, `${stem}.mid`, "MIDI"));
    if (job.settings.loop && job.files.includes(`${stem}.loop.json`)) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = "play seamless loop";
      button.addEventListener("click", () => playSeamlessly(job, name, `${stem}.loop.json`, button));
      links.append(button);
    }
    card.append(player, links);
  }
  const more = document.createElement("p");
  more.className = "links";
  const zip = document.createElement("a");
  zip.href = `/api/pieces/${job.id}/zip`;
  zip.textContent = "everything (zip)";
  const again = document.createElement("button");
  again.type = "button";
  again.textContent = "make again";
  again.addEventListener("click", () => {
    for (const [name, value] of Object.entries(job.settings)) {
      const input = form.elements[name];
      if (!input || input.type === "file") continue;
      if (BOOLEANS.has(name)) input.checked = value; else input.value = value === null ? "" : value;
    }
    window.scrollTo({top: 0, behavior: "smooth"});
  });
  more.append(zip, again);
  card.append(more);
}

function show(job) {
  let card = document.getElementById(`piece-${job.id}`);
  if (!card) {
    card = document.createElement("article");
    card.className = "card";
    card.id = `piece-${job.id}`;
    pieces.prepend(card);
  }
  card.dataset.status = job.status;
  render(card, job);
  if (job.status === "queued" || job.status === "running") {
    setTimeout(async () => show(await (await fetch(`/api/pieces/${job.id}`)).json()), 700);
  }
}

form.addEventListener("submit", submit);
document.getElementById("surprise").addEventListener("click", () => { form.seed.value = ""; submit(); });
setUp();

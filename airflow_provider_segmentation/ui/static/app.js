// The "AEP audiences" page: reads ./api/overview once per source and draws everything itself (SVG
// charts, no third-party code). Once drawn, <main> gets data-ready="true"; each chart's <svg> carries
// data-points (the number of sizes drawn) so that a browser test reads what a person sees.
"use strict";

const PAGE_SIZE = 50;
const NS = "http://www.w3.org/2000/svg";
const SERIES = ["realized", "existing", "exited"];
const state = { data: null, filter: "", page: 0 };
const $ = (id) => document.getElementById(id);
const number = new Intl.NumberFormat();

function headers() {
  // Airflow 3.1+ logs the UI in with the _token cookie, which this same-origin page sends by itself;
  // an Airflow UI that keeps the token in localStorage instead gets it sent as a bearer token.
  const token = window.localStorage && localStorage.getItem("token");
  return token ? { Authorization: `Bearer ${token}` } : {};
}

async function getJSON(path) {
  const response = await fetch(path, { credentials: "same-origin", headers: headers() });
  if (!response.ok) {
    throw new Error(`${path}: ${response.status} ${(await response.text()).slice(0, 300)}`);
  }
  return response.json();
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== null && value !== undefined) node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function svg(tag, attrs = {}) {
  const node = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  return node;
}

function day(iso) {
  return iso ? new Date(iso).toISOString().slice(0, 10) : "";
}

function when(iso) {
  return iso ? new Date(iso).toISOString().slice(0, 16).replace("T", " ") + " UTC" : "–";
}

function chart(audience) {
  const points = audience.points;
  const width = 320, height = 96, left = 44, right = 8, top = 8, bottom = 18;
  const root = svg("svg", {
    class: "chart", viewBox: `0 0 ${width} ${height}`, role: "img", "data-points": String(points.length),
    "aria-label": points.length
      ? `${audience.name}: ${points.length} sizes from ${number.format(points[0].total)} on ${day(points[0].at)} ` +
        `to ${number.format(points[points.length - 1].total)} on ${day(points[points.length - 1].at)}`
      : `${audience.name}: no size yet`,
  });
  root.append(svg("line", { class: "axis", x1: left, y1: height - bottom, x2: width - right, y2: height - bottom }));
  if (!points.length) {
    const text = svg("text", { x: left, y: height / 2 });
    text.textContent = "no finished evaluation yet";
    root.append(text);
    return root;
  }
  const values = points.flatMap((p) => [p.total, ...SERIES.map((s) => p[s])]).filter((v) => v !== null);
  const max = Math.max(...values, 1), min = Math.min(...values, 0);
  const times = points.map((p) => Date.parse(p.at));
  const t0 = times[0], t1 = times[times.length - 1];
  const x = (i) => (t1 > t0 ? left + ((times[i] - t0) / (t1 - t0)) * (width - left - right) : (left + width - right) / 2);
  const y = (v) => top + (1 - (v - min) / (max - min || 1)) * (height - top - bottom);
  for (const [label, at] of [[number.format(max), top + 4], [number.format(min), height - bottom]]) {
    const text = svg("text", { x: left - 4, y: at, "text-anchor": "end" });
    text.textContent = label;
    root.append(text);
  }
  for (const [label, anchor, at] of [[day(points[0].at), "start", left], [day(points[points.length - 1].at), "end", width - right]]) {
    const text = svg("text", { x: at, y: height - 4, "text-anchor": anchor });
    text.textContent = label;
    root.append(text);
  }
  for (const series of SERIES) {
    const drawn = points.map((p, i) => [i, p[series]]).filter(([, v]) => v !== null);
    if (drawn.length > 1) {
      root.append(svg("polyline", { class: series, points: drawn.map(([i, v]) => `${x(i)},${y(v)}`).join(" ") }));
    }
  }
  root.append(svg("polyline", { class: "total", points: points.map((p, i) => `${x(i)},${y(p.total)}`).join(" ") }));
  points.forEach((p, i) => {
    const dot = svg("circle", { class: "dot", cx: x(i), cy: y(p.total), r: 2.5 });
    const title = svg("title");
    title.textContent = `${when(p.at)}: ${number.format(p.total)} profiles (job ${p.job_id})`;
    dot.append(title);
    root.append(dot);
  });
  return root;
}

function legend(audience) {
  const shown = ["total", ...SERIES.filter((s) => audience.points.some((p) => p[s] !== null))];
  return el("div", { class: "legend" }, ...shown.map((s) => el("span", {}, el("i", { style: `background: var(--${s === "total" ? "line" : s})` }), s)));
}

function audienceItem(audience) {
  const size = audience.size === null ? "no size yet" : `${number.format(audience.size)} profiles`;
  const title = el("h3", {}, el("a", { href: audience.url, target: "_blank", rel: "noopener" }, audience.name));
  if (audience.state) title.append(el("span", { class: `badge ${audience.state}` }, audience.state));
  return el("li", { class: "audience", "data-id": audience.id, "data-size": audience.size ?? "" },
    title,
    el("p", { class: "size" }, size),
    el("p", { class: "ids muted" }, `${audience.id}${audience.measured_at ? ` · measured ${when(audience.measured_at)}` : ""}`),
    chart(audience),
    legend(audience));
}

function drawAudiences() {
  const needle = state.filter.trim().toLowerCase();
  const all = state.data.audiences;
  const shown = needle ? all.filter((a) => a.name.toLowerCase().includes(needle) || a.id.toLowerCase().includes(needle)) : all;
  const pages = Math.max(1, Math.ceil(shown.length / PAGE_SIZE));
  state.page = Math.min(state.page, pages - 1);
  const slice = shown.slice(state.page * PAGE_SIZE, (state.page + 1) * PAGE_SIZE);
  $("audiences").replaceChildren(...slice.map(audienceItem));
  $("count").textContent = needle ? `(${shown.length} of ${all.length})` : `(${all.length})`;
  $("page").textContent = `page ${state.page + 1} of ${pages}`;
  $("prev").disabled = state.page === 0;
  $("next").disabled = state.page >= pages - 1;
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  return seconds < 120 ? `${seconds.toFixed(1)} s` : `${(seconds / 60).toFixed(1)} min`;
}

function drawJobs() {
  const rows = state.data.jobs.map((job) => el("tr", { "data-job": job.id, "data-status": job.status },
    el("td", {}, job.kind),
    el("td", {}, el("a", { href: job.url, target: "_blank", rel: "noopener" }, job.id)),
    el("td", {}, el("span", { class: `status ${job.status}` }, job.status)),
    el("td", {}, when(job.created)),
    el("td", {}, duration(job.duration_seconds)),
    el("td", {}, job.task ? el("a", { href: job.task.url, target: "_top" }, `${job.task.dag_id} › ${job.task.task_id}`) : "–")));
  $("jobs").tBodies[0].replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: "6" }, "no jobs"))]));
}

function drawFolder() {
  const folder = state.data.folder;
  const section = $("folder");
  section.hidden = !folder;
  if (!folder) return;
  const summary = folder.error
    ? el("p", { class: "error" }, `Audiences folder ${folder.path}: ${folder.error}`)
    : el("p", {}, `Audiences as code (${folder.path}, project ${folder.project}): `,
        el("strong", {}, folder.drifted ? "the sandbox differs from the files" : "the sandbox matches the files"),
        ` – ${Object.entries(folder.counts).filter(([, n]) => n).map(([k, n]) => `${n} ${k}`).join(", ") || "no audiences"}`);
  section.replaceChildren(el("h2", {}, "Audiences as code"), summary);
}

async function load(source) {
  const main = $("app");
  main.dataset.ready = "false";
  main.setAttribute("aria-busy", "true");
  try {
    state.data = await getJSON(`api/overview?source=${encodeURIComponent(source)}`);
    $("error").hidden = !state.data.error;
    $("error").textContent = state.data.error ? `AEP could not be read: ${state.data.error}` : "";
    $("meta").textContent = `${state.data.source} · read ${when(state.data.fetched_at)}${state.data.cached ? " (cached)" : ""}`;
    state.page = 0;
    drawAudiences();
    drawJobs();
    drawFolder();
  } catch (error) {
    $("error").hidden = false;
    $("error").textContent = String(error.message || error);
  }
  main.dataset.ready = "true";
  main.setAttribute("aria-busy", "false");
}

async function start() {
  try {
    const { sources } = await getJSON("api/sources");
    $("source").replaceChildren(...sources.map((s) => el("option", { value: s.key }, s.key)));
    $("source").addEventListener("change", (event) => load(event.target.value));
    $("filter").addEventListener("input", (event) => { state.filter = event.target.value; state.page = 0; drawAudiences(); });
    $("prev").addEventListener("click", () => { state.page -= 1; drawAudiences(); });
    $("next").addEventListener("click", () => { state.page += 1; drawAudiences(); });
    await load(sources[0].key);
  } catch (error) {
    $("error").hidden = false;
    $("error").textContent = String(error.message || error);
    $("app").dataset.ready = "true";
  }
}

document.addEventListener("DOMContentLoaded", start);

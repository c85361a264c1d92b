// The dashboard: a login form, then five pages drawn with plotly.js from API answers only.
// Tokens live in sessionStorage (this tab only); every request carries the access token, and a
// 401 tries the refresh token once before asking to log in again.
"use strict";

const API = "/api/v1";
const PAGES = ["books", "crawls", "vitibrasil", "forecasts", "models"];
const CONFIG = {displaylogo: false, responsive: true};
const STATUS_COLOURS = {finished: "#2e7d32", running: "#1565c0", partial: "#ef6c00", failed: "#c62828",
                        interrupted: "#6a1b9a"};
const FAILED = new Set(["failed", "partial", "interrupted"]);
const state = {page: null, timer: null, loaded: {}};

const $ = (id) => document.getElementById(id);

// --- API access -----------------------------------------------------------------------------------

function tokens() {
  return {access: sessionStorage.getItem("access"), refresh: sessionStorage.getItem("refresh")};
}

async function refreshed() {
  const refresh = tokens().refresh;
  if (!refresh) return false;
  const response = await fetch(`${API}/auth/refresh`, {method: "POST", headers: {Authorization: `Bearer ${refresh}`}});
  if (!response.ok) return false;
  sessionStorage.setItem("access", (await response.json()).access_token);
  return true;
}

class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
  }
}

async function api(path, options = {}) {
  for (let attempt = 0; attempt < 2; attempt++) {
    const headers = {Authorization: `Bearer ${tokens().access}`, ...(options.body ? {"Content-Type": "application/json"} : {})};
    const response = await fetch(API + path, {...options, headers});
    if (response.status === 401 && attempt === 0 && await refreshed()) continue;
    if (response.status === 401) {
      showLogin("Your session has ended: log in again.");
      throw new ApiError(401, null);
    }
    const body = await response.json().catch(() => null);
    if (!response.ok) throw new ApiError(response.status, body);
    return body;
  }
}

function query(params) {
  const given = Object.entries(params).filter(([, v]) => v !== "" && v !== null && v !== undefined);
  return given.length ? "?" + new URLSearchParams(given).toString() : "";
}

// --- Login and navigation -------------------------------------------------------------------------

function showLogin(message) {
  sessionStorage.clear();
  clearInterval(state.timer);
  state.loaded = {};
  $("nav").hidden = true;
  document.querySelectorAll(".page").forEach((page) => { page.hidden = true; });
  $("login").hidden = false;
  $("login-error").textContent = message || "";
}

async function login(event) {
  event.preventDefault();
  const form = new FormData($("login"));
  const response = await fetch(`${API}/auth/login`, {
    method: "POST", headers: {"Content-Type": "application/json"},
    body: JSON.stringify({username: form.get("username"), password: form.get("password")}),
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    $("login-error").textContent = body.message || `Login failed (HTTP ${response.status})`;
    return;
  }
  sessionStorage.setItem("access", body.access_token);
  sessionStorage.setItem("refresh", body.refresh_token);
  $("login").reset();
  route();
}

function route() {
  if (!tokens().access) return showLogin();
  const page = PAGES.includes(location.hash.slice(1)) ? location.hash.slice(1) : "books";
  $("login").hidden = true;
  $("nav").hidden = false;
  document.querySelectorAll(".page").forEach((section) => { section.hidden = section.id !== `page-${page}`; });
  document.querySelectorAll("nav a").forEach((a) => a.classList.toggle("active", a.dataset.page === page));
  clearInterval(state.timer);
  state.page = page;
  $("error").textContent = "";
  guard(LOADERS[page]());
}

async function guard(promise) {
  try {
    await promise;
  } catch (error) {
    if (error.status !== 401) $("error").textContent = `Could not load: ${error.message}`;
  }
}

// --- Charts ---------------------------------------------------------------------------------------

function draw(id, traces, layout) {
  const base = {margin: {t: 48, r: 24, b: 64, l: 72}, legend: {orientation: "h", y: -0.25}, hovermode: "closest"};
  const element = $(id);
  return Plotly.react(element, traces, {...base, ...layout}, CONFIG).then(() => {
    element.dataset.drawn = String(Number(element.dataset.drawn || 0) + 1);  // a new drawing is on screen
  });
}

const axis = (text, extra = {}) => ({title: {text}, automargin: true, ...extra});
const money = (value) => (value === null || value === undefined ? "–" : Number(value).toFixed(2));

// --- Books ----------------------------------------------------------------------------------------

function bookFilters() {
  return {category: $("books-category").value, min_rating: $("books-rating").value, in_stock: $("books-stock").value};
}

async function loadBooks() {
  if (!state.loaded.categories) {
    const categories = await api("/categories");
    for (const c of categories.items) $("books-category").add(new Option(c.name, c.slug));
    state.loaded.categories = true;
  }
  const filters = bookFilters();
  const [figures, changes] = await Promise.all([api("/stats/books" + query(filters)),
                                                api("/stats/books/changes" + query({category: filters.category}))]);
  $("books-total").textContent = `${figures.books} books, ${figures.units} units, average £${money(figures.avg_price)}`;

  const categories = [...new Set(figures.price_histogram.map((r) => r.category))];
  const label = (r) => `£${r.low}–${r.high}`;
  draw("chart-books-price", categories.map((name) => {
    const rows = figures.price_histogram.filter((r) => r.category === name);
    return {type: "bar", name, x: rows.map(label), y: rows.map((r) => r.books),
            customdata: rows.map((r) => [r.category_slug, r.low, r.high])};
  }), {title: {text: "Price distribution per category"}, barmode: "stack", showlegend: categories.length <= 12,
       xaxis: axis("Price incl. tax (GBP)", {categoryorder: "array", categoryarray:
         [...new Set(figures.price_histogram.map((r) => r.low))].sort((a, b) => a - b).map((low) =>
           label({low, high: low + figures.bucket_width}))}),
       yaxis: axis("Books")});

  const biggest = Math.max(1, ...figures.rating_price.map((r) => r.books));
  draw("chart-books-rating", [
    {type: "scatter", mode: "markers", name: "Books", x: figures.rating_price.map((r) => r.rating),
     y: figures.rating_price.map((r) => (r.low + r.high) / 2), text: figures.rating_price.map((r) => `${r.books} books`),
     marker: {size: figures.rating_price.map((r) => 6 + 34 * Math.sqrt(r.books / biggest)), opacity: 0.55}},
    {type: "scatter", mode: "lines+markers", name: "Average price", x: figures.ratings.map((r) => r.rating),
     y: figures.ratings.map((r) => r.avg_price)},
  ], {title: {text: "Price against rating"}, xaxis: axis("Rating (stars)", {dtick: 1}), yaxis: axis("Price incl. tax (GBP)")});

  draw("chart-books-stock", [
    {type: "bar", name: "In stock", x: figures.stock.map((r) => r.category), y: figures.stock.map((r) => r.in_stock),
     customdata: figures.stock.map((r) => [r.category_slug, "true"]), marker: {color: "#2e7d32"}},
    {type: "bar", name: "Out of stock", x: figures.stock.map((r) => r.category), y: figures.stock.map((r) => r.out_of_stock),
     customdata: figures.stock.map((r) => [r.category_slug, "false"]), marker: {color: "#c62828"}},
  ], {title: {text: "Stock per category"}, barmode: "stack", xaxis: axis("Category"), yaxis: axis("Books")});

  const days = changes.items.map((d) => d.day);
  draw("chart-books-changes", [
    ["added", "Added", "#1565c0"], ["removed", "Removed", "#6d4c41"], ["price_up", "Price up", "#c62828"],
    ["price_down", "Price down", "#2e7d32"], ["stock_change", "Stock changed", "#ef6c00"],
  ].map(([key, name, color]) => ({type: "bar", name, x: days, y: changes.items.map((d) => d[key]), marker: {color}})),
  {title: {text: "Changes over time (from the history)"}, barmode: "group", xaxis: axis("Day", {type: "date"}),
   yaxis: axis("Books")});

  if (!state.loaded.bookClicks) {
    $("chart-books-price").on("plotly_click", (event) => {
      const [slug, low, high] = event.points[0].customdata;
      guard(listBooks({category: slug, min_price: low, max_price: (high - 0.01).toFixed(2)}, `${event.points[0].data.name}, £${low}–${high}`));
    });
    $("chart-books-stock").on("plotly_click", (event) => {
      const [slug, inStock] = event.points[0].customdata;
      guard(listBooks({category: slug, in_stock: inStock}, `${event.points[0].x}, ${event.points[0].data.name.toLowerCase()}`));
    });
    state.loaded.bookClicks = true;
  }
}

async function listBooks(params, title) {
  const filters = bookFilters();
  const page = await api("/books" + query({...params, min_rating: filters.min_rating,
                                           in_stock: params.in_stock || filters.in_stock, limit: 50, sort: "price"}));
  $("books-listing-title").textContent = `${title}: ${page.total} book(s)${page.total > page.items.length ? `, first ${page.items.length}` : ""}`;
  const body = $("books-listing").tBodies[0];
  body.replaceChildren(...page.items.map((book) => {
    const row = document.createElement("tr");
    const link = Object.assign(document.createElement("a"), {href: book.url, textContent: book.title, rel: "noreferrer"});
    const cells = [link, book.category, money(book.price), "★".repeat(book.rating), String(book.availability)];
    for (const value of cells) row.insertCell().append(value);
    return row;
  }));
}

// --- Crawls ---------------------------------------------------------------------------------------

const seconds = (from, to) => (new Date(to) - new Date(from)) / 1000;

async function loadCrawls() {
  await drawCrawls();
  state.timer = setInterval(() => guard(drawCrawls()), 5000);  // a running crawl writes its progress every 5 s
}

async function drawCrawls() {
  const [crawls, health] = await Promise.all([api("/crawls?limit=100"), api("/health")]);
  const runs = crawls.items.slice().reverse();  // oldest first

  const running = crawls.items.filter((r) => r.status === "running");
  $("crawls-running").replaceChildren(...(running.length ? running.map(progressPanel)
    : [Object.assign(document.createElement("p"), {textContent: "No crawl is running."})]));

  const statuses = [...new Set(runs.map((r) => r.status))];
  draw("chart-crawls-runs", statuses.map((status) => {
    const rows = runs.filter((r) => r.status === status);
    return {type: "scatter", mode: "markers", name: status, marker: {color: STATUS_COLOURS[status], size: 10},
            x: rows.map((r) => r.started_at), y: rows.map((r) => seconds(r.started_at, r.finished_at || new Date())),
            text: rows.map((r) => `run ${r.id} (${r.spider})`)};
  }), {title: {text: "Runs over time, by status"}, xaxis: axis("Started", {type: "date"}), yaxis: axis("Duration (s)")});

  const labels = runs.map((r) => `${r.id} ${r.spider}`);
  draw("chart-crawls-counts", ["inserted", "updated", "unchanged", "removed", "rejected"].map((key) => ({
    type: "bar", name: key, x: labels, y: runs.map((r) => (r[key] === null ? 0 : r[key])),
  })), {title: {text: "Counts per run"}, barmode: "stack", xaxis: axis("Run", {type: "category"}), yaxis: axis("Rows")});

  const spiders = health.spiders;
  draw("chart-crawls-freshness", [
    {type: "bar", name: "Age of the last complete crawl", x: spiders.map((s) => s.spider),
     y: spiders.map((s) => (s.age_seconds === null ? null : s.age_seconds / 3600)),
     marker: {color: spiders.map((s) => (s.stale ? "#c62828" : "#2e7d32"))}},
    {type: "scatter", mode: "markers", name: "Maximum age", x: spiders.map((s) => s.spider),
     y: spiders.map((s) => s.max_age_seconds / 3600), marker: {symbol: "line-ew-open", size: 40, color: "#222"}},
  ], {title: {text: "Freshness per spider"}, xaxis: axis("Spider"), yaxis: axis("Hours")});

  const failures = crawls.items.filter((r) => FAILED.has(r.status));
  $("crawls-failures").tBodies[0].replaceChildren(...failures.map((r) => {
    const row = document.createElement("tr");
    for (const value of [r.id, r.spider, r.status, r.finished_at, r.finish_reason]) row.insertCell().textContent = value ?? "";
    return row;
  }));
}

function progressPanel(run) {
  const panel = Object.assign(document.createElement("div"), {className: "running"});
  panel.dataset.run = run.id;
  const heading = document.createElement("h3");
  heading.textContent = `Running: ${run.spider} (run ${run.id}), started ${new Date(run.started_at).toLocaleString()}`;
  const bar = document.createElement("progress");
  if (run.expected) Object.assign(bar, {max: run.expected, value: run.items || 0});
  const figures = document.createElement("p");
  figures.className = "progress";
  const eta = run.eta ? `, estimated end ${new Date(run.eta).toLocaleTimeString()}` : "";
  figures.textContent = run.progress_at === null ? "No progress written yet."
    : `${run.items} of ${run.expected ?? "?"} items, ${run.pages} pages, ${run.staged} staged, ${run.rejected} rejected,`
      + ` ${Number(run.rate).toFixed(1)} items/s${eta}`;
  panel.append(heading, bar, figures);
  return panel;
}

// --- Vitibrasil -----------------------------------------------------------------------------------

async function loadVitibrasil() {
  if (!state.loaded.datasets) {
    const datasets = await api("/vitibrasil/datasets");
    for (const d of datasets.items) $("viti-dataset").add(new Option(`${d.label} (${d.unit})`, d.name));
    state.loaded.datasets = datasets.items;
  }
  await Promise.all([drawSeries(true), drawBalance()]);
}

async function drawSeries(newDataset) {
  const dataset = state.loaded.datasets.find((d) => d.name === $("viti-dataset").value);
  if (newDataset) {
    const series = await api("/vitibrasil/series" + query({dataset: dataset.name}));
    $("viti-series").replaceChildren(...series.items.map((s) =>
      new Option(s.category && s.category !== s.item ? `${s.category} › ${s.item}` : s.item, JSON.stringify([s.category, s.item]))));
  }
  if (!$("viti-series").value) return draw("chart-viti-series", [], {title: {text: "No figures stored yet"}});
  const [category, item] = JSON.parse($("viti-series").value);
  const rows = await api("/vitibrasil/observations" + query({dataset: dataset.name, item, limit: 1000,
                                                            ...(category === null ? {} : {category})}));
  const traces = [{type: "scatter", mode: "lines+markers", name: `Quantity (${dataset.unit})`,
                   x: rows.items.map((r) => r.year), y: rows.items.map((r) => r.quantity)}];
  const layout = {title: {text: `${item}: ${dataset.label}`}, xaxis: axis("Year"), yaxis: axis(`Quantity (${dataset.unit})`)};
  if (dataset.kind === "trade") {
    traces.push({type: "scatter", mode: "lines+markers", name: "Value (US$)", yaxis: "y2",
                 x: rows.items.map((r) => r.year), y: rows.items.map((r) => r.value_usd)});
    layout.yaxis2 = axis("Value (US$)", {overlaying: "y", side: "right"});
  }
  return draw("chart-viti-series", traces, layout);
}

async function drawBalance() {
  const totals = await api("/vitibrasil/totals");
  const sum = (prefix) => {
    const years = {};
    for (const t of totals.items) {
      if (t.dataset.startsWith(prefix) && t.quantity !== null) years[t.year] = (years[t.year] || 0) + t.quantity;
    }
    return years;
  };
  const line = (years, name, extra) => ({type: "scatter", mode: "lines+markers", name,
    x: Object.keys(years).map(Number), y: Object.values(years), ...extra});
  return draw("chart-viti-balance", [
    line(sum("production"), "Production (L)", {}),
    line(sum("export_"), "Exports (kg)", {yaxis: "y2"}),
    line(sum("import_"), "Imports (kg)", {yaxis: "y2"}),
  ], {title: {text: "Production against exports and imports"}, xaxis: axis("Year"), yaxis: axis("Production (L)"),
      yaxis2: axis("Exports and imports (kg)", {overlaying: "y", side: "right"})});
}

// --- Forecasts ------------------------------------------------------------------------------------

const LEVELS = [0.8, 0.95];
const HORIZON = 3;  // years past the last data year the model forecasts

async function loadForecasts() {
  if (!state.loaded.trade) {
    const datasets = (await api("/vitibrasil/datasets")).items.filter((d) => d.kind === "trade" && d.row_count > 0);
    for (const d of datasets) $("fc-dataset").add(new Option(d.label, d.name));
    state.loaded.trade = datasets;
    await fillCountries();
  }
  await drawForecast();
}

async function fillCountries() {
  const series = await api("/vitibrasil/series" + query({dataset: $("fc-dataset").value}));
  $("fc-country").replaceChildren(...series.items.filter((s) => s.value_usd > 0).map((s) => new Option(s.item, s.item)));
}

async function drawForecast() {
  $("fc-error").textContent = "";
  const dataset = $("fc-dataset").value, country = $("fc-country").value;
  if (!dataset || !country) return draw("chart-forecasts", [], {title: {text: "No trade figures stored yet"}});
  const rows = (await api("/vitibrasil/observations" + query({dataset, item: country, limit: 1000}))).items
    .filter((r) => r.quantity > 0 && r.value_usd !== null);
  if (!rows.length) return draw("chart-forecasts", [], {title: {text: `No prices stored for ${country}`}});
  const last = Math.max(...rows.map((r) => r.year));
  const quantity = $("fc-quantity").value;
  const instances = Array.from({length: HORIZON}, (_, i) => ({dataset, country, year: last + 1 + i,
                                                              ...(quantity === "" ? {} : {quantity_kg: Number(quantity)})}));
  let answer;
  try {
    answer = await api("/ml/predictions", {method: "POST", body: JSON.stringify({model: "wine_price", levels: LEVELS, instances})});
  } catch (error) {
    if (error.status === 401) throw error;
    $("fc-error").textContent = `No forecast: ${error.message}`;
    answer = {predictions: []};
  }
  const predictions = answer.predictions;
  const history = {type: "scatter", mode: "lines+markers", name: "Price (history)", x: rows.map((r) => r.year),
                   y: rows.map((r) => r.value_usd / r.quantity), line: {color: "#263238"}};
  // The fan opens at the last observed price: the forecasts and their intervals start from it.
  const lastPrice = history.y[history.y.length - 1];
  const years = [last, ...predictions.map((p) => p.instance.year)];
  const bands = [];
  for (const level of [...LEVELS].sort((a, b) => b - a)) {  // widest first, so the narrower one is drawn on top
    const band = predictions.map((p) => (p.intervals || []).find((i) => i.level === level) || null);
    if (!predictions.length || band.some((b) => b === null)) continue;
    const shade = level >= 0.95 ? "rgba(21, 101, 192, 0.18)" : "rgba(21, 101, 192, 0.35)";
    bands.push({type: "scatter", mode: "lines", x: years, y: [lastPrice, ...band.map((b) => b.high)], line: {width: 0},
                showlegend: false, hoverinfo: "skip", name: `${Math.round(level * 100)}% high`},
               {type: "scatter", mode: "lines", x: years, y: [lastPrice, ...band.map((b) => b.low)], line: {width: 0},
                fill: "tonexty", fillcolor: shade, name: `${Math.round(level * 100)}% interval`});
  }
  const scenario = predictions.some((p) => p.kind === "scenario");
  const point = {type: "scatter", mode: "lines+markers", name: scenario ? "Scenario" : "Forecast", x: years,
                 y: [lastPrice, ...predictions.map((p) => p.prediction)], line: {color: "#1565c0", dash: "dash"}};
  const servedBy = [...new Set(predictions.map((p) => p.served_by))].join(", ");
  $("fc-served").textContent = predictions.length ? `served by ${servedBy}` : "";
  if (quantity !== "" && predictions.length && !scenario) {
    $("fc-error").textContent = "The scenario model is not served (it did not beat the naive rules in the backtest):"
      + " this is the plain forecast.";
  }
  return draw("chart-forecasts", [history, ...bands, point], {
    title: {text: `${country}: ${$("fc-dataset").selectedOptions[0].text}`},
    xaxis: axis("Year", {dtick: 5}), yaxis: axis("Price (US$/kg)")});
}

// --- Models ---------------------------------------------------------------------------------------

async function loadModels() {
  const {models} = await api("/ml/models");
  const versions = models.flatMap((m) => m.versions.map((v) => ({...v, model: m.name})));
  $("models-versions").tBodies[0].replaceChildren(...versions.map((v) => {
    const row = document.createElement("tr");
    const metrics = v.metrics || {};
    const mae = (figures) => (figures ? figures.mae.toFixed(3) : "");
    for (const value of [v.model, String(v.version), v.status, v.serves, new Date(v.trained_at).toLocaleString(),
                         mae(metrics.model), mae(metrics.baseline)]) {
      row.insertCell().textContent = value ?? "";
    }
    return row;
  }));
  // The active (else newest) version of each model: its backtest per horizon where it has one
  // (wine_price), against the strongest naive rule; else its one held-out comparison with its baseline.
  const traces = [];
  for (const m of models) {
    const v = m.versions.find((x) => x.version === m.active_version) || m.versions[0];
    if (!v) continue;
    const label = `${m.name} v${v.version}`;
    if (v.backtest) {
      for (const [kind, rows] of [["forecast", v.backtest.forecast], ["scenario", v.backtest.scenario]]) {
        const all = rows.map((r) => r.families.all);
        traces.push({type: "bar", name: `${label} model (${kind})`, x: rows.map((r) => `${m.name}, ${r.horizon} year(s)`),
                     y: all.map((f) => f.model.mae), text: rows.map((r) => `serves ${r.serves}`)});
      }
      const all = v.backtest.forecast.map((r) => r.families.all);
      traces.push({type: "bar", name: `${label} strongest naive rule`, x: v.backtest.forecast.map((r) => `${m.name}, ${r.horizon} year(s)`),
                   y: all.map((f) => f.naive[f.strongest_naive].mae), text: all.map((f) => f.strongest_naive)});
    } else {
      traces.push({type: "bar", name: `${label} model`, x: [`${m.name}, held out`], y: [v.metrics.model.mae]},
                  {type: "bar", name: `${label} ${v.baseline}`, x: [`${m.name}, held out`], y: [v.metrics.baseline.mae]});
    }
  }
  return draw("chart-models", traces, {title: {text: traces.length ? "Backtest error against the naive rules" : "No model trained yet"},
                                       barmode: "group", xaxis: axis("Model and horizon"), yaxis: axis("MAE")});
}

const LOADERS = {books: loadBooks, crawls: loadCrawls, vitibrasil: loadVitibrasil, forecasts: loadForecasts, models: loadModels};

// --- Wiring ---------------------------------------------------------------------------------------

$("login").addEventListener("submit", (event) => guard(login(event)));
$("logout").addEventListener("click", () => showLogin());
window.addEventListener("hashchange", route);
for (const id of ["books-category", "books-rating", "books-stock"]) $(id).addEventListener("change", () => guard(loadBooks()));
$("viti-dataset").addEventListener("change", () => guard(drawSeries(true)));
$("viti-series").addEventListener("change", () => guard(drawSeries(false)));
$("fc-dataset").addEventListener("change", () => guard(fillCountries().then(drawForecast)));
$("fc-country").addEventListener("change", () => guard(drawForecast()));
$("fc-quantity").addEventListener("change", () => guard(drawForecast()));
route();

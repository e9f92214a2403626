// The map: SVG in a Mercator projection measured in degrees (x = longitude, y = the
// Mercator ordinate of the latitude, north up), so that no tile server or map data is
// needed. Lines and fences live in map units; markers and labels are drawn in screen
// pixels and re-scaled on every zoom so they keep their size.

const SVG = "http://www.w3.org/2000/svg";
const METRES_PER_DEGREE = 111320;
const GLIDE_MS = 600;
const STEPS = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20];

export const mercY = (lat) =>
  -(180 / Math.PI) * Math.log(Math.tan(Math.PI / 4 + (lat * Math.PI) / 360));
const latOf = (y) => (360 / Math.PI) * Math.atan(Math.exp((-y * Math.PI) / 180)) - 90;

function el(name, attrs = {}, parent = null) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (parent) parent.appendChild(node);
  return node;
}

function title(node, text) {
  el("title", {}, node).textContent = text;
}

export class LiveMap {
  constructor(svg, { onVehicle, onSite, scaleBar }) {
    this.svg = svg;
    this.onVehicle = onVehicle;
    this.onSite = onSite;
    this.scaleBar = scaleBar;
    this.view = { x: 100, y: -40, w: 40, h: 30 };
    this.layers = {};
    for (const name of ["grid", "fences", "routes", "track", "sites", "vehicles", "labels"]) {
      this.layers[name] = el("g", { class: `layer-${name}` }, svg);
    }
    this.sites = new Map();
    this.vehicles = new Map();
    this.pins = new Set();
    this.fitted = false;
    this.interact();
    new ResizeObserver(() => this.apply()).observe(svg);
  }

  // World units per screen pixel, as `preserveAspectRatio="xMidYMid meet"` draws it.
  get unit() {
    const w = this.svg.clientWidth || 800;
    const h = this.svg.clientHeight || 600;
    return Math.max(this.view.w / w, this.view.h / h);
  }

  apply() {
    const { x, y, w, h } = this.view;
    this.svg.setAttribute("viewBox", `${x} ${y} ${w} ${h}`);
    const k = this.unit;
    for (const pin of this.pins) this.place(pin);
    this.drawGrid(k);
    this.drawScale(k);
    this.declutter();
  }

  // Labels that would overlap a marker or an earlier label are hidden (the marker keeps
  // its tooltip): the selected shipment's vehicles first, then late ones, other
  // vehicles, and sites last. Runs at most once a frame.
  declutter() {
    if (this.declutterPending) return;
    this.declutterPending = true;
    requestAnimationFrame(() => {
      this.declutterPending = false;
      const k = this.unit;
      const boxes = [];
      const at = (pin) => [(pin._x - this.view.x) / k, (pin._y - this.view.y) / k];
      const free = (b) => !boxes.some((o) => b[0] < o[2] && b[2] > o[0] && b[1] < o[3] && b[3] > o[1]);
      const rank = ({ pin }) => (pin.classList.contains("selected") ? 0 : pin.classList.contains("late") ? 1 : 2);
      const shown = [...this.vehicles.values()].filter(({ pin }) => !pin.classList.contains("hidden"))
        .sort((a, b) => rank(a) - rank(b));
      // Vehicles on top of one another (a yard, a port) show as one marker with their
      // count, the most important of them on top.
      const heads = [];
      for (const entry of shown) {
        const [x, y] = at(entry.pin);
        const head = heads.find((o) => Math.hypot(o.x - x, o.y - y) < 14);
        if (head) head.under.push(entry);
        else heads.push({ x, y, entry, under: [] });
        boxes.push([x - 10, y - 10, x + 10, y + 10]);
      }
      for (const { entry, under } of heads) {
        entry.label.textContent = entry.code + (under.length ? ` +${under.length}` : "");
        entry.pin.classList.toggle("stacked", under.length > 0);
        if (under.length) entry.pin.parentNode.appendChild(entry.pin);
        for (const other of under) {
          other.label.textContent = other.code;
          other.label.style.display = "none";
        }
      }
      const hidden = new Set(heads.flatMap(({ under }) => under.map((o) => o.pin)));
      // A label goes to the first free spot of those offered (its text's start and
      // baseline, in pixels from the marker), or is hidden.
      const place = (pin, text, spots) => {
        const [x, y] = at(pin);
        const w = text.textContent.length * 6.8;
        for (const [dx, dy] of spots(w)) {
          const box = [x + dx, y + dy - 12, x + dx + w, y + dy + 2];
          if (!free(box)) continue;
          text.setAttribute("x", dx);
          text.setAttribute("y", dy);
          text.style.display = "";
          boxes.push(box);
          return;
        }
        text.style.display = "none";
      };
      // Right of the marker where there is room, else left, below or above: a site under
      // a vehicle, or a vehicle beside another, still says which it is.
      const around = (w) => [[13, 4], [-w - 13, 4], [-w / 2, 24], [-w / 2, -14], [-w / 2, 36], [-w / 2, -26]];
      for (const { pin, label } of shown) if (!hidden.has(pin)) place(pin, label, around);
      for (const { pin } of this.sites.values()) place(pin, pin.querySelector("text"), around);
    });
  }

  place(pin) {
    pin.setAttribute("transform", `translate(${pin._x} ${pin._y}) scale(${this.unit})`);
  }

  pin(layer, lat, lon, cls) {
    const g = el("g", { class: cls }, this.layers[layer]);
    g._x = lon;
    g._y = mercY(lat);
    this.pins.add(g);
    this.place(g);
    return g;
  }

  drop(pin) {
    this.pins.delete(pin);
    pin.remove();
  }

  // Sites with their fences: a polygon from GeoJSON, else a circle of the radius.
  setSites(sites) {
    const seen = new Set();
    for (const site of sites) {
      seen.add(site.id);
      if (this.sites.has(site.id)) continue;
      const fence = this.fence(site);
      const pin = this.pin("sites", site.latitude, site.longitude, `site site-${site.kind.toLowerCase()}`);
      el("rect", { x: -5, y: -5, width: 10, height: 10, rx: 2 }, pin);
      const label = el("text", { x: 8, y: 4 }, pin);
      label.textContent = site.code;
      title(pin, `${site.name} (${site.code}) · ${site.kind.toLowerCase().replace("_", " ")}`);
      pin.addEventListener("click", (e) => { e.stopPropagation(); this.onSite?.(site); });
      this.sites.set(site.id, { site, pin, fence });
    }
    this.declutter();
    for (const [id, entry] of this.sites) {
      if (!seen.has(id)) {
        this.drop(entry.pin);
        entry.fence?.remove();
        this.sites.delete(id);
      }
    }
  }

  fence(site) {
    const g = this.layers.fences;
    const geo = site.geofence;
    if (geo && (geo.type === "Polygon" || geo.type === "MultiPolygon")) {
      const polygons = geo.type === "Polygon" ? [geo.coordinates] : geo.coordinates;
      const d = polygons.flatMap((rings) => rings.map((ring) =>
        ring.map(([lon, lat], i) => `${i ? "L" : "M"}${lon} ${mercY(lat)}`).join("") + "Z")).join("");
      const path = el("path", { d, class: "fence", "vector-effect": "non-scaling-stroke" }, g);
      title(path, `${site.code} geofence`);
      return path;
    }
    if (site.geofenceRadiusM) {
      const r = site.geofenceRadiusM / (METRES_PER_DEGREE * Math.cos((site.latitude * Math.PI) / 180));
      const circle = el("circle", { cx: site.longitude, cy: mercY(site.latitude), r, class: "fence",
        "vector-effect": "non-scaling-stroke" }, g);
      title(circle, `${site.code} geofence, ${Math.round(site.geofenceRadiusM)} m`);
      return circle;
    }
    return null;
  }

  // The legs' routes: straight from origin to destination (no road or rail network is
  // known), drawn by mode; the selected shipment's stand out.
  setRoutes(legs) {
    const g = this.layers.routes;
    g.replaceChildren();
    for (const leg of legs) {
      if (!leg.origin || !leg.destination) continue;
      const line = el("line", {
        x1: leg.origin.longitude, y1: mercY(leg.origin.latitude),
        x2: leg.destination.longitude, y2: mercY(leg.destination.latitude),
        class: `route mode-${leg.mode.toLowerCase()}${leg.late ? " late" : ""}${leg.selected ? " selected" : ""}${leg.done ? " done" : ""}`,
        "vector-effect": "non-scaling-stroke",
      }, g);
      title(line, `${leg.number} leg ${leg.seq}: ${leg.origin.code} → ${leg.destination.code} (${leg.mode.toLowerCase()})`);
    }
  }

  setTrack(points) {
    const g = this.layers.track;
    g.replaceChildren();
    if (!points?.length) return;
    const d = points.map((p, i) => `${i ? "L" : "M"}${p.longitude} ${mercY(p.latitude)}`).join("");
    el("path", { d, class: "track", "vector-effect": "non-scaling-stroke" }, g);
  }

  // A vehicle's marker: an arrow along its heading (a dot when it reports none).
  upsertVehicle(v) {
    let entry = this.vehicles.get(v.id);
    if (!entry) {
      const pin = this.pin("vehicles", v.latitude, v.longitude, "vehicle");
      pin.dataset.vehicle = v.code;
      el("circle", { r: 11, class: "halo" }, pin);
      const body = el("g", { class: "body" }, pin);
      el("circle", { r: 8 }, body);
      el("path", { d: "M0 -7 L5 4 L0 1.5 L-5 4 Z", class: "arrow" }, body);
      const label = el("text", { x: 13, y: 4 }, pin);
      const tip = el("title", {}, pin);
      pin.addEventListener("click", (e) => { e.stopPropagation(); this.onVehicle?.(v.id); });
      entry = { pin, body, label, tip, code: v.code };
      this.vehicles.set(v.id, entry);
    }
    const { pin, body, label, tip } = entry;
    this.glide(pin, v.longitude, mercY(v.latitude));
    pin.dataset.lat = String(v.latitude);
    pin.dataset.lon = String(v.longitude);
    pin.setAttribute("class", `vehicle kind-${v.kind.toLowerCase()}${v.late ? " late" : ""}${v.selected ? " selected" : ""}${v.hidden ? " hidden" : ""}`);
    body.setAttribute("transform", v.heading == null ? "" : `rotate(${v.heading})`);
    body.classList.toggle("no-heading", v.heading == null);
    label.textContent = v.code;
    const speed = v.speedKmh == null ? "" : ` · ${Math.round(v.speedKmh)} km/h`;
    const heading = v.heading == null ? "" : ` · heading ${Math.round(v.heading)}°`;
    this.declutter();
    tip.textContent = `${v.name || v.code} (${v.kind.toLowerCase().replace("_", " ")})${speed}${heading}\nfix ${new Date(v.fixTime).toLocaleString()}`;
  }

  // Moves a marker to its new place over a moment, so the eye can follow it; a jump
  // across much of the view, or a hidden page, is shown at once.
  glide(pin, x, y) {
    cancelAnimationFrame(pin._glide);
    const [x0, y0] = [pin._x, pin._y];
    const far = Math.hypot(x - x0, y - y0) > this.view.w / 4;
    if (x === x0 && y === y0) return;
    if (far || document.hidden) {
      Object.assign(pin, { _x: x, _y: y });
      this.place(pin);
      return;
    }
    const start = performance.now();
    const step = (now) => {
      const t = Math.min(1, (now - start) / GLIDE_MS);
      const e = t * (2 - t);
      Object.assign(pin, { _x: x0 + (x - x0) * e, _y: y0 + (y - y0) * e });
      this.place(pin);
      if (t < 1) pin._glide = requestAnimationFrame(step);
      else this.declutter();
    };
    pin._glide = requestAnimationFrame(step);
  }

  removeVehicle(id) {
    const entry = this.vehicles.get(id);
    if (entry) {
      this.drop(entry.pin);
      this.vehicles.delete(id);
    }
  }

  // Frame the given points (lat/lon pairs), padded; with none, everything shown.
  fit(points = null) {
    const all = points || [
      ...[...this.sites.values()].map(({ site }) => [site.latitude, site.longitude]),
      ...[...this.vehicles.values()].filter(({ pin }) => !pin.classList.contains("hidden"))
        .map(({ pin }) => [latOf(pin._y), pin._x]),
    ];
    if (!all.length) return;
    let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity];
    for (const [lat, lon] of all) {
      const y = mercY(lat);
      x0 = Math.min(x0, lon); x1 = Math.max(x1, lon);
      y0 = Math.min(y0, y); y1 = Math.max(y1, y);
    }
    const span = Math.max(x1 - x0, y1 - y0, 0.05);
    const pad = span * 0.12;
    const w = Math.max(x1 - x0, 0.05) + 2 * pad;
    const h = Math.max(y1 - y0, 0.05) + 2 * pad;
    this.view = { x: (x0 + x1) / 2 - w / 2, y: (y0 + y1) / 2 - h / 2, w, h };
    this.fitted = true;
    this.apply();
  }

  zoom(factor, cx = null, cy = null) {
    const v = this.view;
    const px = cx ?? v.x + v.w / 2;
    const py = cy ?? v.y + v.h / 2;
    const w = Math.min(Math.max(v.w * factor, 0.002), 360);
    const f = w / v.w;
    this.view = { x: px - (px - v.x) * f, y: py - (py - v.y) * f, w, h: v.h * f };
    this.apply();
  }

  // Screen pixel to map units.
  toMap(clientX, clientY) {
    const m = this.svg.getScreenCTM().inverse();
    const p = new DOMPoint(clientX, clientY).matrixTransform(m);
    return [p.x, p.y];
  }

  interact() {
    let drag = null;
    this.svg.addEventListener("wheel", (e) => {
      e.preventDefault();
      const [x, y] = this.toMap(e.clientX, e.clientY);
      this.zoom(e.deltaY > 0 ? 1.25 : 0.8, x, y);
    }, { passive: false });
    this.svg.addEventListener("dblclick", (e) => {
      const [x, y] = this.toMap(e.clientX, e.clientY);
      this.zoom(0.5, x, y);
    });
    this.svg.addEventListener("pointerdown", (e) => {
      drag = { x: e.clientX, y: e.clientY, view: { ...this.view }, k: this.unit, moved: false };
    });
    this.svg.addEventListener("pointermove", (e) => {
      if (!drag) return;
      const dx = e.clientX - drag.x;
      const dy = e.clientY - drag.y;
      if (!drag.moved && Math.hypot(dx, dy) < 3) return;
      if (!drag.moved) this.svg.setPointerCapture(e.pointerId);
      drag.moved = true;
      this.view = { ...drag.view, x: drag.view.x - dx * drag.k, y: drag.view.y - dy * drag.k };
      this.apply();
    });
    const end = () => { drag = null; this.svg.classList.remove("dragging"); };
    this.svg.addEventListener("pointerup", end);
    this.svg.addEventListener("pointercancel", end);
  }

  // Meridians and parallels at a round step, labelled at the edges.
  drawGrid(k) {
    const g = this.layers.grid;
    g.replaceChildren();
    const { x, y, w, h } = this.view;
    const step = STEPS.find((s) => s / k >= 90) || 20;
    const x0 = Math.ceil(x / step) * step;
    const lat0 = latOf(y + h);
    const lat1 = latOf(y);
    const digits = Math.max(0, -Math.floor(Math.log10(step)));
    const fmt = (v, pos, neg) => `${Math.abs(v).toFixed(digits)}°${v >= 0 ? pos : neg}`;
    // Generous bounds: with "meet" the visible area may be wider than the viewBox.
    const slack = Math.max(w, h);
    for (let lon = x0 - Math.ceil(slack / step) * step; lon <= x + w + slack; lon += step) {
      el("line", { x1: lon, y1: y - slack, x2: lon, y2: y + h + slack, class: "grid",
        "vector-effect": "non-scaling-stroke" }, g);
    }
    const latStart = Math.floor(latOf(y + h + slack) / step) * step;
    for (let lat = latStart; lat <= Math.min(latOf(y - slack), 85); lat += step) {
      const yy = mercY(lat);
      el("line", { x1: x - slack, y1: yy, x2: x + w + slack, y2: yy, class: "grid",
        "vector-effect": "non-scaling-stroke" }, g);
    }
    // Labels, in pixels, along the top and the left of the visible box.
    const labels = this.layers.labels;
    for (const old of [...labels.children]) this.drop(old);
    const box = this.visibleBox();
    for (let lon = Math.ceil(box.x0 / step) * step; lon <= box.x1; lon += step) {
      const pin = this.pin("labels", latOf(box.y0), lon, "grid-label");
      el("text", { x: 3, y: 12 }, pin).textContent = fmt(lon, "E", "W");
    }
    for (let lat = Math.ceil(lat0 / step) * step; lat <= lat1; lat += step) {
      if (mercY(lat) < box.y0 || mercY(lat) > box.y1) continue;
      const pin = this.pin("labels", lat, box.x0, "grid-label");
      el("text", { x: 3, y: -3 }, pin).textContent = fmt(lat, "N", "S");
    }
  }

  // The part of the map actually on screen (wider or taller than the viewBox).
  visibleBox() {
    const k = this.unit;
    const cw = (this.svg.clientWidth || 800) * k;
    const ch = (this.svg.clientHeight || 600) * k;
    const cx = this.view.x + this.view.w / 2;
    const cy = this.view.y + this.view.h / 2;
    return { x0: cx - cw / 2, x1: cx + cw / 2, y0: cy - ch / 2, y1: cy + ch / 2 };
  }

  drawScale(k) {
    if (!this.scaleBar) return;
    const lat = latOf(this.view.y + this.view.h / 2);
    const metresPerPx = k * METRES_PER_DEGREE * Math.cos((lat * Math.PI) / 180);
    const target = metresPerPx * 120;
    const nice = [1, 2, 5].flatMap((m) => [1, 10, 100, 1000, 10000, 100000, 1000000].map((p) => m * p))
      .sort((a, b) => a - b).filter((m) => m <= target).pop() || 1;
    this.scaleBar.style.width = `${Math.round(nice / metresPerPx)}px`;
    this.scaleBar.dataset.label = nice >= 1000 ? `${nice / 1000} km` : `${nice} m`;
  }
}

// The live page: sign in with a token, list the organization's open shipments, draw
// them on the map and keep it all current from the GraphQL subscriptions.

import { Api } from "./gql.js";
import { LiveMap } from "./map.js";
import { NotificationsPanel } from "./notifications.js";
import {
  Q_DETAIL, Q_SHIPMENT, Q_SHIPMENTS, Q_SITES, Q_VIEWER, S_EVENTS, S_SHIPMENT_POSITIONS, S_VEHICLE_POSITIONS,
} from "./queries.js";
import { $, ago, detailText, globalId, h, siteOf, SITES, span, summarize, TIME, tone, when, words } from "./ui.js";

const OPEN = ["PLANNED", "LOADING", "DEPARTED", "IN_TRANSIT", "ARRIVED", "EXCEPTION"];
const FLEET_ROLES = ["logistics", "admin"];
const MAX_PAGES = 6;
const REFRESH_MS = 60000;
const FEED_MAX = 100;
const STORE_KEY = "keylink.live.token";

class LivePage {
  constructor(token) {
    this.api = new Api(token, {
      onState: (state, reconnected) => this.connection(state, reconnected),
      onAuthFailure: (message) => signOut(`That token was not accepted: ${message}`),
    });
    this.shipments = new Map();
    this.sites = new Map();
    this.vehicles = new Map();
    this.positionSubs = new Map();
    this.stops = [];
    this.timers = [];
    this.selected = null;
    this.customer = "";
    this.lateOnly = false;
    this.feed = [];
    this.feedKeys = new Set();
    this.lastSeq = null;
    this.lastUpdate = null;
    this.pending = new Map();
    // A map of its own: a page signed in before leaves no layers or listeners behind.
    const svg = $("map").cloneNode(false);
    $("map").replaceWith(svg);
    this.map = new LiveMap(svg, {
      onVehicle: (id) => this.selectVehicle(id),
      onSite: () => {},
      scaleBar: $("scale-bar"),
    });
  }

  async start() {
    // Nothing of a page signed in before stays on screen.
    this.tick();
    $("detail").hidden = true;
    $("late-only").checked = false;
    $("event-feed").replaceChildren();
    $("notification-list").replaceChildren();
    $("unread").hidden = true;
    $("mark-all-read").hidden = true;
    const { viewer } = await this.api.query(Q_VIEWER);
    this.viewer = viewer;
    this.fleet = !viewer.isCustomer && viewer.roles.some((r) => FLEET_ROLES.includes(r));
    $("who").replaceChildren(h("strong", {}, viewer.organization.name),
      h("span", { class: "muted" }, ` · ${viewer.subject} · ${viewer.isCustomer ? "customer" : viewer.roles.join(", ")}`));
    $("customer-filter-box").hidden = viewer.isCustomer;
    this.wire();
    await this.loadSites();
    await this.loadShipments();
    this.map.fit();
    if (this.fleet) {
      this.stops.push(this.api.subscribe(S_VEHICLE_POSITIONS, {}, (d) => this.position(d.vehiclePositions),
        () => { this.fleet = false; this.watchEachShipment(); }));
    }
    const events = { after: null };
    this.stops.push(this.api.subscribe(S_EVENTS, events, (d) => {
      const e = d.events;
      if (this.lastSeq != null && e.seq <= this.lastSeq) return;
      this.lastSeq = e.seq;
      events.after = e.seq;  // a reconnect resumes after the last one seen
      this.domainEvent(e);
    }));
    this.notes = new NotificationsPanel(this.api);
    this.notes.start();
    this.timers.push(setInterval(() => this.loadShipments().catch(() => {}), REFRESH_MS));
    this.timers.push(setInterval(() => this.tick(), 1000));
  }

  stop() {
    for (const stop of [...this.stops, ...this.positionSubs.values()]) stop();
    this.notes?.stop();
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.api.close();
  }

  wire() {
    $("customer-filter").onchange = (e) => {
      this.customer = e.target.value;
      this.render();
      this.renderFeed();
      this.map.fit();
    };
    $("late-only").onchange = (e) => { this.lateOnly = e.target.checked; this.render(); };
    $("zoom-in").onclick = () => this.map.zoom(0.5);
    $("zoom-out").onclick = () => this.map.zoom(2);
    $("zoom-fit").onclick = () => this.map.fit();
  }

  // ---- shipments -------------------------------------------------------------

  async loadShipments() {
    const found = new Map();
    let after = null;
    let more = false;
    for (let page = 0; page < MAX_PAGES; page++) {
      const { shipments } = await this.api.query(Q_SHIPMENTS, { after, status: OPEN });
      for (const s of shipments.nodes) found.set(s.id, summarize(s));
      more = shipments.pageInfo.hasNextPage;
      if (!more) break;
      after = shipments.pageInfo.endCursor;
    }
    this.shipments = found;
    this.more = more;  // more open shipments than the page follows: the count says so
    if (this.selected && !found.has(this.selected)) this.select(null);
    if (this.feed.length === 0) this.seedFeed();
    this.customers();
    if (!this.fleet) this.watchEachShipment();
    this.render();
  }

  // Every site the viewer may see, with its fence, whether a shipment goes there or not.
  async loadSites() {
    let after = null;
    for (let page = 0; page < MAX_PAGES; page++) {
      const { sites } = await this.api.query(Q_SITES, { after });
      for (const site of sites.nodes) {
        this.sites.set(site.id, site);
        SITES.set(site.id, site);
      }
      if (!sites.pageInfo.hasNextPage) break;
      after = sites.pageInfo.endCursor;
    }
  }

  async refreshShipment(id) {
    const { shipment } = await this.api.query(Q_SHIPMENT, { id });
    if (shipment) this.shipments.set(id, summarize(shipment));
    else this.shipments.delete(id);
    this.render();
    if (id === this.selected) this.detail(id);
  }

  // Several events about one shipment in a burst cause one read.
  later(key, fn, ms = 500) {
    clearTimeout(this.pending.get(key));
    this.pending.set(key, setTimeout(() => { this.pending.delete(key); fn().catch(() => {}); }, ms));
  }

  // Without the fleet stream: one subscription per shipment, all over one socket.
  watchEachShipment() {
    for (const [id, stop] of this.positionSubs) {
      if (!this.shipments.has(id)) { stop(); this.positionSubs.delete(id); }
    }
    for (const id of this.shipments.keys()) {
      if (this.positionSubs.has(id)) continue;
      this.positionSubs.set(id, this.api.subscribe(S_SHIPMENT_POSITIONS, { id },
        (d) => this.position(d.shipmentPositions),
        () => this.positionSubs.delete(id)));
    }
  }

  customers() {
    if (this.viewer.isCustomer) return;
    const select = $("customer-filter");
    const codes = new Map();
    for (const s of this.shipments.values()) for (const c of s.customers || []) codes.set(c.code, c.name);
    const current = select.value;
    select.replaceChildren(h("option", { value: "" }, "All customers"),
      ...[...codes].sort().map(([code, name]) => h("option", { value: code }, `${code} · ${name}`)));
    select.value = codes.has(current) ? current : "";
    this.customer = select.value;
  }

  visible(s) {
    if (this.customer && !s.customerCodes.includes(this.customer)) return false;
    return !this.lateOnly || s.late;
  }

  render() {
    const shown = [...this.shipments.values()].filter((s) => this.visible(s)).sort((a, b) =>
      (b.late - a.late) || (Date.parse(a.arrival || 0) - Date.parse(b.arrival || 0)));
    const lateCount = shown.filter((s) => s.late).length;
    $("shipment-count").textContent = `${shown.length}${this.more ? "+" : ""}${lateCount ? ` · ${lateCount} late` : ""}`;
    $("shipment-count").title = this.more ? `Only the newest ${this.shipments.size} open shipments are followed here.` : "";
    $("shipment-list").replaceChildren(...(shown.length ? shown.map((s) => this.row(s))
      : [h("li", { class: "empty" }, this.shipments.size ? "No shipment matches the filter." : "No open shipments.")]));
    const sites = new Map(this.sites);
    const routes = [];
    for (const s of shown) {
      for (const leg of s.legs) {
        for (const site of [leg.origin, leg.destination]) if (site) sites.set(site.id, site);
        routes.push({ ...leg, number: s.number, late: leg.delayed, selected: s.id === this.selected,
          done: ["ARRIVED", "UNLOADED", "RECEIVED", "CANCELLED"].includes(leg.status) });
      }
    }
    routes.sort((a, b) => a.selected - b.selected);
    if (!this.fleet) {
      // Followed shipment by shipment: a vehicle none of them is on any more goes.
      for (const [id, v] of this.vehicles) {
        if (!v.shipmentIds.some((s) => this.shipments.has(s))) {
          this.vehicles.delete(id);
          this.map.removeVehicle(id);
        }
      }
    }
    this.map.setSites([...sites.values()]);
    this.map.setRoutes(routes);
    for (const v of this.vehicles.values()) this.drawVehicle(v);
  }

  row(s) {
    const eta = s.arrival ? `${s.etaKind} ${when(s.arrival)}` : "no ETA yet";
    const against = s.promised ? ` · promised by ${when(s.promised)}` : "";
    const lateness = s.lateMs > 0 ? h("span", { class: "late-by" }, ` late by ${span(s.lateMs / 1000)}`) : null;
    return h("li", {
      class: `shipment${s.late ? " late" : ""}${s.id === this.selected ? " selected" : ""}`,
      "data-id": s.id, "data-number": s.number, tabindex: 0,
      onclick: () => this.select(s.id === this.selected ? null : s.id),
      onkeydown: (e) => { if (e.key === "Enter") this.select(s.id); },
    },
    h("div", { class: "line1" },
      h("span", { class: "number" }, s.number),
      h("span", { class: `status st-${s.status.toLowerCase()}` }, words(s.status)),
      s.late ? h("span", { class: "flag" }, "late") : null,
      s.delayed && !s.late ? h("span", { class: "flag behind", title: "behind its planned arrival, still within the promised window" }, "behind plan") : null),
    h("div", { class: "line2" },
      h("span", { class: "mode" }, s.modes),
      ` · ${s.coilCount} · ${s.tonnes.toFixed(1)} t`,
      !this.viewer.isCustomer && s.customerCodes.length ? ` · ${s.customerCodes.join(", ")}` : null),
    h("div", { class: "line3" }, eta, against, lateness),
    s.latest ? h("div", { class: "line4 muted" }, `${words(s.latest.kind)} ${siteOf(s.latest.details)}· ${ago(s.latest.occurredAt)}`) : null);
  }

  // ---- vehicles --------------------------------------------------------------

  position(update) {
    const vehicle = update.vehicle || { id: `unknown-${update.shipmentIds[0]}`, code: "?", kind: "TRUCK", name: "" };
    const known = this.vehicles.get(vehicle.id);
    if (known && Date.parse(known.fixTime) > Date.parse(update.position.fixTime)) return;
    const v = { ...vehicle, ...update.position, shipmentIds: update.shipmentIds };
    this.vehicles.set(vehicle.id, v);
    this.lastUpdate = Date.now();
    this.drawVehicle(v);
  }

  drawVehicle(v) {
    const mine = v.shipmentIds.map((id) => this.shipments.get(id)).filter(Boolean);
    const filtered = Boolean(this.customer || this.lateOnly);
    this.map.upsertVehicle({
      ...v,
      late: mine.some((s) => s.late),
      selected: v.shipmentIds.includes(this.selected),
      hidden: filtered && !mine.some((s) => this.visible(s)),
    });
  }

  selectVehicle(id) {
    const v = this.vehicles.get(id);
    const first = v?.shipmentIds.find((s) => this.shipments.has(s));
    if (first) this.select(first);
  }

  // ---- one shipment ----------------------------------------------------------

  select(id) {
    this.selected = id;
    this.render();
    if (!id) {
      $("detail").hidden = true;
      this.map.setTrack(null);
      return;
    }
    this.detail(id, true).catch((e) => {
      $("detail").replaceChildren(h("p", { class: "error" }, `Could not load the shipment: ${e.message}`));
    });
  }

  async detail(id, frame = false) {
    const s = this.shipments.get(id);
    const box = $("detail");
    box.hidden = false;
    if (frame) box.replaceChildren(h("p", { class: "muted" }, `Loading ${s?.number || ""}…`));
    const { shipment } = await this.api.query(Q_DETAIL, { id });
    if (!shipment || this.selected !== id) return;
    this.map.setTrack(shipment.track);
    if (frame) {
      const points = shipment.track.map((p) => [p.latitude, p.longitude]);
      for (const leg of s.legs) for (const site of [leg.origin, leg.destination]) if (site) points.push([site.latitude, site.longitude]);
      this.map.fit(points);
    }
    const coils = shipment.coils.nodes;
    box.replaceChildren(
      h("div", { class: "detail-head" },
        h("h3", {}, s.number),
        h("button", { class: "link", onclick: () => this.select(null), "aria-label": "Close" }, "×")),
      h("p", { class: "muted small" }, `${words(s.status)} · ${s.modes} · ${s.coilCount} · ${s.tonnes.toFixed(1)} t`,
        s.customerCodes.length && !this.viewer.isCustomer ? ` · for ${s.customerCodes.join(", ")}` : null),
      h("table", { class: "legs" },
        h("thead", {}, h("tr", {}, ["#", "mode", "from → to", "vehicle", "arrival"].map((t) => h("th", {}, t)))),
        h("tbody", {}, s.legs.map((l) => h("tr", { class: l.delayed ? "late" : "" },
          h("td", {}, l.seq),
          h("td", {}, words(l.mode)),
          h("td", {}, `${l.origin?.code || "?"} → ${l.destination?.code || "?"}`),
          h("td", {}, l.vehicle?.code || "—"),
          h("td", {}, l.actualArrival ? `arrived ${when(l.actualArrival)}`
            : l.eta ? `ETA ${when(l.eta)}` : `planned ${when(l.plannedArrival)}`))))),
      h("h4", {}, `Coils (${coils.length}${shipment.coils.pageInfo.hasNextPage ? "+" : ""})`),
      h("ul", { class: "coils" }, coils.map((c) => h("li", {},
        h("span", { class: "coil-no" }, c.coilNo),
        h("span", { class: "muted" }, ` ${c.spec?.grade || ""}${c.spec?.coating ? ` ${c.spec.coating}` : ""} ${Number(c.thicknessMm)}×${Number(c.widthMm)} mm`),
        h("span", { class: "weight" }, `${(Number(c.weightKg) / 1000).toFixed(2)} t`)))),
      h("h4", {}, "Events"),
      h("ol", { class: "detail-events" }, [...shipment.events.nodes].reverse().slice(0, 12).map((e) =>
        h("li", { class: `ev ev-${e.kind} tone-${tone(e.kind)}` }, h("span", { class: "kind" }, words(e.kind)),
          ` ${siteOf(e.details)}`, h("span", { class: "muted" }, when(e.occurredAt))))),
      h("p", { class: "muted small" }, `Track: ${shipment.track.length} fixes`));
  }

  // ---- event feed ------------------------------------------------------------

  seedFeed() {
    const seed = [];
    for (const s of this.shipments.values()) {
      for (const e of s.events.nodes) seed.push({ kind: e.kind, number: s.number, shipmentId: s.id, occurredAt: e.occurredAt, details: e.details });
    }
    seed.sort((a, b) => Date.parse(a.occurredAt) - Date.parse(b.occurredAt));
    for (const item of seed.slice(-30)) this.addFeed(item, false);
    this.renderFeed();
  }

  domainEvent(e) {
    if (!e.eventType.startsWith("shipment.")) return;
    const p = e.payload || {};
    const shipmentId = p.shipment_id != null ? globalId("Shipment", p.shipment_id) : null;
    const vehicle = p.vehicle_id != null ? this.vehicles.get(globalId("Vehicle", p.vehicle_id)) : null;
    this.addFeed({ kind: p.kind || e.eventType.slice(9), number: p.shipment, shipmentId,
      vehicle: vehicle?.code, occurredAt: e.occurredAt, details: p.details || {} }, true);
    this.renderFeed();
    if (shipmentId && this.shipments.has(shipmentId)) this.later(shipmentId, () => this.refreshShipment(shipmentId));
    else if (shipmentId) this.later("all", () => this.loadShipments(), 2000);
  }

  addFeed(item, fresh) {
    const key = `${item.number}|${item.kind}|${Date.parse(item.occurredAt)}`;
    if (this.feedKeys.has(key)) return;
    this.feedKeys.add(key);
    this.feed.unshift({ ...item, fresh });
    if (this.feed.length > FEED_MAX) this.feed.length = FEED_MAX;
  }

  // With a customer chosen, the events of that customer's shipments.
  inFeed(e) {
    if (!this.customer) return true;
    const s = e.shipmentId && this.shipments.get(e.shipmentId);
    return Boolean(s && s.customerCodes.includes(this.customer));
  }

  renderFeed() {
    const items = this.feed.filter((e) => this.inFeed(e));
    $("event-feed").replaceChildren(...(items.length ? items.map((e) => h("li", {
      class: `ev ev-${e.kind} tone-${tone(e.kind)}${e.fresh ? " fresh" : ""}`,
      onclick: () => { if (e.shipmentId && this.shipments.has(e.shipmentId)) this.select(e.shipmentId); },
    },
    h("div", {}, h("span", { class: "kind" }, words(e.kind)), " ", h("strong", {}, e.number || e.vehicle || ""),
      " ", siteOf(e.details)),
    h("div", { class: "muted small" }, when(e.occurredAt), detailText(e))))
      : [h("li", { class: "empty" }, "Nothing has happened yet.")]));
  }


  // ---- connection ------------------------------------------------------------

  connection(state, reconnected) {
    if (this.stopped) return;
    this.state = state;
    if (state === "offline" && !this.lostAt) this.lostAt = Date.now();
    if (state === "live") this.lostAt = null;
    if (reconnected) {
      // Subscriptions resume by themselves and send the latest state first; ETAs and
      // states that changed meanwhile come from a fresh read.
      this.loadShipments().catch(() => {});
    }
    this.tick();
  }

  tick() {
    const box = $("connection");
    const text = $("connection-text");
    box.className = `connection ${this.state || "connecting"}`;
    if (this.state === "live") {
      text.textContent = this.lastUpdate ? `Live · last fix ${TIME.format(this.lastUpdate)}` : "Live";
    } else if (this.state === "offline") {
      text.textContent = "Not live · reconnecting…";
    } else {
      text.textContent = "Connecting…";
    }
    const banner = $("not-live");
    banner.hidden = this.state !== "offline";
    if (this.lostAt) {
      $("not-live-text").textContent = `connection lost ${span((Date.now() - this.lostAt) / 1000)} ago,`
        + " reconnecting. What you see may be out of date.";
    }
  }
}


let page = null;

function storedToken() {
  // A token handed over in the fragment (never sent to the server) is taken once and
  // removed from the address bar and the history.
  const fragment = new URLSearchParams(location.hash.slice(1));
  const given = fragment.get("token");
  if (given) {
    history.replaceState(null, "", location.pathname + location.search);
    sessionStorage.setItem(STORE_KEY, given);
    return given;
  }
  return sessionStorage.getItem(STORE_KEY) || localStorage.getItem(STORE_KEY);
}

async function signIn(token, remember) {
  token = token.trim().replace(/^Bearer\s+/i, "");
  page?.stop();
  const next = new LivePage(token);
  page = next;
  try {
    await next.start();
  } catch (e) {
    next.stop();
    if (page === next) page = null;
    showSignIn(e.code === "UNAUTHENTICATED" ? "That token was not accepted (expired or not valid)."
      : `Could not load the page: ${e.message}`);
    return;
  }
  sessionStorage.setItem(STORE_KEY, token);
  if (remember) localStorage.setItem(STORE_KEY, token);
  $("signin").hidden = true;
  $("app").hidden = false;
  next.map.fit();
}

function showSignIn(message) {
  $("app").hidden = true;
  $("signin").hidden = false;
  const error = $("signin-error");
  error.hidden = !message;
  error.textContent = message || "";
  $("token").focus();
}

function signOut(message = "") {
  page?.stop();
  page = null;
  sessionStorage.removeItem(STORE_KEY);
  localStorage.removeItem(STORE_KEY);
  showSignIn(message);
}

$("signin-form").addEventListener("submit", (e) => {
  e.preventDefault();
  signIn($("token").value, $("remember").checked);
  $("token").value = "";
});
$("signout").addEventListener("click", () => signOut());

const token = storedToken();
if (token) signIn(token, false);
else showSignIn();

// The live page: sign in with a token, list the organization's open shipments, draw
// them on the map and keep it all current from the GraphQL subscriptions.

import { Api } from "./gql.js";
import { LiveMap } from "./map.js";

const OPEN = ["PLANNED", "LOADING", "DEPARTED", "IN_TRANSIT", "ARRIVED", "EXCEPTION"];
const FLEET_ROLES = ["logistics", "admin"];
const PAGE_SIZE = 50;
const MAX_PAGES = 6;
const REFRESH_MS = 60000;
const FEED_MAX = 100;
const STORE_KEY = "keylink.live.token";

const SITE_FIELDS = "id code name kind latitude longitude geofence geofenceRadiusM";
const SHIPMENT_FIELDS = `id number status delayed eta
  customers { code name }
  currentLeg { seq }
  legs { seq mode status plannedDeparture plannedArrival promisedBy actualDeparture
         actualArrival eta delayed vehicle { id code kind name }
         origin { ${SITE_FIELDS} } destination { ${SITE_FIELDS} } }
  coils(first: 100) { nodes { weightKg } pageInfo { hasNextPage } }
  events(first: 50) { nodes { kind occurredAt details } pageInfo { hasNextPage } }`;

const Q_VIEWER = "{ viewer { subject roles isCustomer organization { code name } } }";
const Q_SHIPMENTS = `query($after: String, $status: [ShipmentStatus!]) {
  shipments(first: ${PAGE_SIZE}, after: $after, filter: {status: $status}) {
    nodes { ${SHIPMENT_FIELDS} } pageInfo { hasNextPage endCursor } } }`;
const Q_SHIPMENT = `query($id: ID!) { shipment(id: $id) { ${SHIPMENT_FIELDS} } }`;
const Q_DETAIL = `query($id: ID!) { shipment(id: $id) {
  id track(maxPoints: 500) { latitude longitude fixTime }
  coils(first: 100) { nodes { coilNo weightKg thicknessMm widthMm spec { grade coating } } pageInfo { hasNextPage } }
  events(first: 100) { nodes { kind occurredAt details leg { seq } } } } }`;
const Q_NOTIFICATIONS = `{ unreadNotificationCount
  notifications(first: 20, unreadOnly: true) { nodes { id sequence eventType title body createdAt readAt } } }`;

const M_MARK_READ = `mutation($input: MarkNotificationsReadInput!) {
  markNotificationsRead(input: $input) { marked { id } unreadCount errors { message } } }`;

const POSITION = "position { fixTime latitude longitude speedKmh heading } shipmentIds vehicle { id code kind name }";
const S_SHIPMENT_POSITIONS = `subscription($id: ID!) { shipmentPositions(shipmentId: $id) { ${POSITION} } }`;
const S_VEHICLE_POSITIONS = `subscription { vehiclePositions { ${POSITION} } }`;
const S_EVENTS = `subscription($after: Int) { events(after: $after) {
  seq eventType aggregateType aggregateId payload occurredAt } }`;
const S_NOTIFICATIONS = `subscription($after: Int) { notifications(after: $after) {
  id sequence eventType title body createdAt readAt } }`;

const $ = (id) => document.getElementById(id);

// A DOM element: h("li", {class: "x"}, "text", child, ...). Text is never parsed as HTML.
function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v == null) continue;
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const child of children.flat()) {
    if (child == null || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

const DATE_TIME = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });
const TIME = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
const when = (iso) => (iso ? DATE_TIME.format(new Date(iso)) : "—");
const words = (s) => String(s).toLowerCase().replaceAll("_", " ");

function ago(iso) {
  const s = Math.round((Date.now() - Date.parse(iso)) / 1000);
  if (s < 0) return `in ${span(-s)}`;
  return s < 45 ? "just now" : `${span(s)} ago`;
}

function span(seconds) {
  if (seconds < 90) return `${Math.max(1, Math.round(seconds))} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172800) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86400)} d`;
}

const globalId = (type, pk) => btoa(`${type}:${pk}`).replaceAll("+", "-").replaceAll("/", "_");

// What a shipment row needs, worked out once per read.
function summarize(s) {
  const legs = [...s.legs].sort((a, b) => a.seq - b.seq);
  for (const leg of legs) for (const site of [leg.origin, leg.destination]) if (site) SITES.set(site.id, site);
  const last = legs[legs.length - 1];
  const promised = legs.map((l) => l.promisedBy).filter(Boolean).sort().pop() || null;
  const finalEta = last?.actualArrival || last?.eta || (s.currentLeg?.seq === last?.seq ? s.eta : null);
  const etaKind = last?.actualArrival ? "arrived" : finalEta ? "ETA" : "planned";
  const arrival = finalEta || last?.plannedArrival || null;
  const lateMs = promised && arrival ? Date.parse(arrival) - Date.parse(promised) : 0;
  const tonnes = s.coils.nodes.reduce((t, c) => t + Number(c.weightKg), 0) / 1000;
  const events = s.events.nodes;
  return {
    ...s,
    legs,
    modes: [...new Set(legs.map((l) => words(l.mode)))].join(" → "),
    coilCount: `${s.coils.nodes.length}${s.coils.pageInfo.hasNextPage ? "+" : ""}`,
    tonnes,
    promised,
    arrival,
    etaKind,
    lateMs,
    // Late means the arrival falls after the promised window; without a promise, being
    // behind the plan is all there is to go by.
    late: promised ? lateMs > 0 : s.delayed,
    latest: events.length ? events[events.length - 1] : null,
    customerCodes: (s.customers || []).map((c) => c.code),
  };
}

class LivePage {
  constructor(token) {
    this.api = new Api(token, {
      onState: (state, reconnected) => this.connection(state, reconnected),
      onAuthFailure: (message) => signOut(`The server did not accept the token: ${message}`),
    });
    this.shipments = new Map();
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
    this.map = new LiveMap($("map"), {
      onVehicle: (id) => this.selectVehicle(id),
      onSite: () => {},
      scaleBar: $("scale-bar"),
    });
  }

  async start() {
    const { viewer } = await this.api.query(Q_VIEWER);
    this.viewer = viewer;
    this.fleet = !viewer.isCustomer && viewer.roles.some((r) => FLEET_ROLES.includes(r));
    $("who").replaceChildren(h("strong", {}, viewer.organization.name),
      h("span", { class: "muted" }, ` · ${viewer.subject} · ${viewer.isCustomer ? "customer" : viewer.roles.join(", ")}`));
    $("customer-filter-box").hidden = viewer.isCustomer;
    this.wire();
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
    this.notifications();
    this.timers.push(setInterval(() => this.loadShipments().catch(() => {}), REFRESH_MS));
    this.timers.push(setInterval(() => this.tick(), 1000));
  }

  stop() {
    for (const stop of [...this.stops, ...this.positionSubs.values()]) stop();
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
    for (let page = 0; page < MAX_PAGES; page++) {
      const { shipments } = await this.api.query(Q_SHIPMENTS, { after, status: OPEN });
      for (const s of shipments.nodes) found.set(s.id, summarize(s));
      if (!shipments.pageInfo.hasNextPage) break;
      after = shipments.pageInfo.endCursor;
    }
    this.shipments = found;
    if (this.selected && !found.has(this.selected)) this.select(null);
    if (this.feed.length === 0) this.seedFeed();
    this.customers();
    if (!this.fleet) this.watchEachShipment();
    this.render();
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
    $("shipment-count").textContent = `${shown.length}${lateCount ? ` · ${lateCount} late` : ""}`;
    $("shipment-list").replaceChildren(...(shown.length ? shown.map((s) => this.row(s))
      : [h("li", { class: "empty" }, this.shipments.size ? "No shipment matches the filter." : "No open shipments.")]));
    const sites = new Map();
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
      ` · ${s.coilCount} coils · ${s.tonnes.toFixed(1)} t`,
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

  // ---- notifications ---------------------------------------------------------

  async notifications() {
    const state = $("notifications-state");
    let data;
    try {
      data = await this.api.query(Q_NOTIFICATIONS);
    } catch (e) {
      state.textContent = e.code === "GRAPHQL_VALIDATION_FAILED"
        ? "Notifications unavailable: this server does not offer them." : `Notifications unavailable: ${e.message}`;
      $("notification-list").replaceChildren();
      return;
    }
    this.unread = data.unreadNotificationCount;
    this.notes = data.notifications.nodes;
    $("mark-all-read").onclick = () => this.markRead({ upToSequence: Math.max(0, ...this.notes.map((n) => n.sequence)) });
    this.renderNotifications();
    const seqs = this.notes.map((n) => n.sequence);
    const vars = { after: seqs.length ? Math.max(...seqs) : null };
    this.stops.push(this.api.subscribe(S_NOTIFICATIONS, vars, (d) => {
      const n = d.notifications;
      vars.after = Math.max(vars.after ?? 0, n.sequence);
      if (this.notes.some((m) => m.id === n.id)) return;
      if (!n.readAt) {
        this.notes.unshift(n);
        this.unread += 1;
      }
      this.renderNotifications();
    }, (e) => { state.textContent = `Live notifications stopped: ${e.message}`; }));
  }

  renderNotifications() {
    const badge = $("unread");
    badge.hidden = !this.unread;
    badge.textContent = String(this.unread);
    $("mark-all-read").hidden = !this.notes.length;
    $("notifications-state").textContent = this.unread ? "" : "No unread notifications.";
    $("notification-list").replaceChildren(...this.notes.slice(0, 30).map((n) => h("li", { "data-id": n.id },
      h("div", { class: "note-head" },
        h("span", { class: "title" }, n.title),
        h("button", { class: "link small", title: "Mark read", onclick: () => this.markRead({ ids: [n.id] }) }, "mark read")),
      n.body ? h("div", { class: "body" }, n.body) : null,
      h("div", { class: "muted small" }, `${words(n.eventType.replace(".", " "))} · ${when(n.createdAt)}`))));
  }

  async markRead(input) {
    try {
      const { markNotificationsRead: done } = await this.api.query(M_MARK_READ, { input });
      if (done.errors.length) throw new Error(done.errors.map((e) => e.message).join("; "));
      const marked = new Set(done.marked.map((n) => n.id));
      const upTo = input.upToSequence ?? -1;
      this.notes = this.notes.filter((n) => !marked.has(n.id) && n.sequence > upTo
        && !(input.ids || []).includes(n.id));
      this.unread = done.unreadCount;
      this.renderNotifications();
    } catch (e) {
      $("notifications-state").textContent = `Could not mark read: ${e.message}`;
    }
  }

  // ---- connection ------------------------------------------------------------

  connection(state, reconnected) {
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

// Sites by global id, from every leg read: events name a site by its database id.
const SITES = new Map();

function siteOf(details) {
  const known = details?.site_id != null ? SITES.get(globalId("Site", details.site_id)) : null;
  const site = details?.site || details?.site_code || known?.code;
  return site ? `${site} ` : "";
}

// How an event kind is shown: trouble, good news, movement, or anything else.
const TROUBLE = new Set(["delayed", "scan_anomaly", "arrival_without_unload", "coil_not_on_manifest",
  "scan_far_from_vehicle", "unknown_coil", "exception"]);
const GOOD = new Set(["arrived", "unloaded", "received", "back_on_time"]);
const MOVE = new Set(["departed", "geofence_entered", "geofence_exited", "geofence_enter", "geofence_exit"]);

function tone(kind) {
  if (TROUBLE.has(kind)) return "bad";
  if (GOOD.has(kind)) return "good";
  return MOVE.has(kind) ? "move" : "info";
}

function detailText(e) {
  const d = e.details || {};
  const parts = [];
  if (d.eta) parts.push(`ETA ${when(d.eta)}`);
  if (d.delay_minutes != null) parts.push(`${Math.round(d.delay_minutes)} min late`);
  if (d.reason) parts.push(String(d.reason).replaceAll("_", " "));
  if (d.coil) parts.push(`coil ${d.coil}`);
  else if (d.code) parts.push(`scanned ${d.code}${d.step ? ` (${d.step})` : ""}`);
  if (e.vehicle && e.number) parts.push(e.vehicle);
  return parts.length ? ` · ${parts.join(" · ")}` : "";
}

// ---- sign in and out -----------------------------------------------------------

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
  page = new LivePage(token);
  try {
    await page.start();
  } catch (e) {
    page.stop();
    page = null;
    showSignIn(e.code === "UNAUTHENTICATED" ? "That token was not accepted (expired or not valid)."
      : `Could not reach the server: ${e.message}`);
    return;
  }
  sessionStorage.setItem(STORE_KEY, token);
  if (remember) localStorage.setItem(STORE_KEY, token);
  $("signin").hidden = true;
  $("app").hidden = false;
  page.map.fit();
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

// Small helpers of the live page: building DOM, formatting times, naming sites and
// events, and what a shipment row shows.

export const $ = (id) => document.getElementById(id);

// A DOM element: h("li", {class: "x"}, "text", child, ...). Text is never parsed as HTML.
export function h(tag, attrs = {}, ...children) {
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
export const TIME = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
export const when = (iso) => (iso ? DATE_TIME.format(new Date(iso)) : "—");
export const words = (s) => String(s).toLowerCase().replaceAll("_", " ");

export function ago(iso) {
  const s = Math.round((Date.now() - Date.parse(iso)) / 1000);
  if (s < 0) return `in ${span(-s)}`;
  return s < 45 ? "just now" : `${span(s)} ago`;
}

export function span(seconds) {
  if (seconds < 90) return `${Math.max(1, Math.round(seconds))} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172800) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86400)} d`;
}

export const globalId = (type, pk) => btoa(`${type}:${pk}`).replaceAll("+", "-").replaceAll("/", "_");

// Sites by global id, from every leg read: events name a site by its database id.
export const SITES = new Map();

export function siteOf(details) {
  const known = details?.site_id != null ? SITES.get(globalId("Site", details.site_id)) : null;
  const site = details?.site || details?.site_code || known?.code;
  return site ? `${site} ` : "";
}

// How an event kind is shown: trouble, good news, movement, or anything else.
const TROUBLE = new Set(["delayed", "scan_anomaly", "arrival_without_unload", "coil_not_on_manifest",
  "scan_far_from_vehicle", "unknown_coil", "blocked_coil_loaded", "scan_off_route", "exception"]);
const GOOD = new Set(["arrived", "unloaded", "received", "back_on_time"]);
const MOVE = new Set(["departed", "geofence_entered", "geofence_exited", "geofence_enter", "geofence_exit"]);

export function tone(kind) {
  if (TROUBLE.has(kind)) return "bad";
  if (GOOD.has(kind)) return "good";
  return MOVE.has(kind) ? "move" : "info";
}

export function detailText(e) {
  const d = e.details || {};
  const parts = [];
  if (d.eta) parts.push(`ETA ${when(d.eta)}`);
  if (d.delay_minutes != null) parts.push(`${Math.round(d.delay_minutes)} min late`);
  if (d.reason) parts.push(String(d.reason).replaceAll("_", " "));
  if (d.coil) parts.push(`coil ${d.coil}`);
  else if (d.code) parts.push(`scanned ${d.code}${d.step ? ` (${d.step})` : ""}`);
  // Scanned where its shipment does not go: the mill is told, the coil stays put.
  if (e.kind === "scan_off_route") parts.push("not on its route, not moved");
  if (e.vehicle && e.number) parts.push(e.vehicle);
  return parts.length ? ` · ${parts.join(" · ")}` : "";
}

// ---- sign in and out -----------------------------------------------------------

// What a shipment row needs, worked out once per read.
export function summarize(s) {
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
    coilCount: `${s.coils.nodes.length}${s.coils.pageInfo.hasNextPage ? "+" : ""}`
      + (s.coils.nodes.length === 1 && !s.coils.pageInfo.hasNextPage ? " coil" : " coils"),
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

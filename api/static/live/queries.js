// The GraphQL documents the live page sends.

export const PAGE_SIZE = 50;

export const SITE_FIELDS = "id code name kind latitude longitude geofence geofenceRadiusM";
export const SHIPMENT_FIELDS = `id number status delayed eta
  customers { code name }
  currentLeg { seq }
  legs { seq mode status plannedDeparture plannedArrival promisedBy actualDeparture
         actualArrival eta delayed vehicle { id code kind name }
         origin { ${SITE_FIELDS} } destination { ${SITE_FIELDS} } }
  coils(first: 100) { nodes { weightKg } pageInfo { hasNextPage } }
  events(first: 50) { nodes { kind occurredAt details } pageInfo { hasNextPage } }`;

export const Q_VIEWER = "{ viewer { subject roles isCustomer organization { code name } } }";
export const Q_SHIPMENTS = `query($after: String, $status: [ShipmentStatus!]) {
  shipments(first: ${PAGE_SIZE}, after: $after, filter: {status: $status}) {
    nodes { ${SHIPMENT_FIELDS} } pageInfo { hasNextPage endCursor } } }`;
export const Q_SITES = `query($after: String) { sites(first: 100, after: $after) {
  nodes { ${SITE_FIELDS} } pageInfo { hasNextPage endCursor } } }`;
export const Q_SHIPMENT = `query($id: ID!) { shipment(id: $id) { ${SHIPMENT_FIELDS} } }`;
export const Q_DETAIL = `query($id: ID!) { shipment(id: $id) {
  id track(maxPoints: 500) { latitude longitude fixTime }
  coils(first: 100) { nodes { coilNo weightKg thicknessMm widthMm spec { grade coating } } pageInfo { hasNextPage } }
  events(first: 100) { nodes { kind occurredAt details leg { seq } } } } }`;
export const Q_NOTIFICATIONS = `{ unreadNotificationCount
  notifications(first: 20, unreadOnly: true) { nodes { id sequence eventType title body createdAt readAt } } }`;

export const M_MARK_READ = `mutation($input: MarkNotificationsReadInput!) {
  markNotificationsRead(input: $input) { marked { id } unreadCount errors { message } } }`;

export const POSITION = "position { fixTime latitude longitude speedKmh heading } shipmentIds vehicle { id code kind name }";
export const S_SHIPMENT_POSITIONS = `subscription($id: ID!) { shipmentPositions(shipmentId: $id) { ${POSITION} } }`;
export const S_VEHICLE_POSITIONS = `subscription { vehiclePositions { ${POSITION} } }`;
export const S_EVENTS = `subscription($after: Int) { events(after: $after) {
  seq eventType aggregateType aggregateId payload occurredAt } }`;
export const S_NOTIFICATIONS = `subscription($after: Int) { notifications(after: $after) {
  id sequence eventType title body createdAt readAt } }`;

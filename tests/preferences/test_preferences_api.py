"""Preferences, saved views and the order form over GraphQL: each customer sets its own
way of working, its form follows it, and nobody sees or changes another's."""

from __future__ import annotations

from datetime import timedelta

from domain.calendar import mill_today
from resolvers.relay import to_global_id
from tests.support.api import Api, token
from tests.support.factory import World, build

PREFS = """query($c: ID) { preferences(customerId: $c) {
    organization { code } units language timeZone currency updatedBy
    defaultDeliverySite { code }
    transport { site { code } transportMode transitDays } } }"""

UPDATE = """mutation($input: UpdatePreferencesInput!) { updatePreferences(input: $input) {
    preferences { units language timeZone defaultDeliverySite { code } }
    errors { field message code } } }"""

TRANSPORT = """mutation($input: SetTransportPreferenceInput!) {
  setTransportPreference(input: $input) {
    preferences { transport { site { code } transportMode transitDays } }
    errors { field message code } } }"""

FORM = """query($c: ID, $site: ID) { orderForm(customerId: $c, deliverySiteId: $site) {
    customer { code }
    defaults { deliverySite { code } transportMode transitDays firmness currency language }
    earliestDeliveryFrom
    deliverySites { site { code } transportMode transitDays default }
    specs { spec { code } lastUnitPrice }
    transportModes firmnessOptions } }"""


async def _station(api: Api) -> int:
    site: int = await api.db.fetchval(
        "INSERT INTO site (code, name, kind, latitude, longitude, geofence_radius_m)"
        " VALUES ('CHANGCHUN-RAIL', 'Changchun rail', 'rail_station', 43.88, 125.31, 700)"
        " RETURNING id")
    return site


async def _faw_prefers_rail(api: Api, w: World) -> int:
    station = await _station(api)
    faw = token("FAW-VW", subject="buyer.faw")
    done = await api.data(UPDATE, {"input": {
        "defaultDeliverySiteId": to_global_id("Site", station), "language": "de-DE",
        "units": "METRIC", "timeZone": "Asia/Shanghai"}}, as_=faw)
    assert done["updatePreferences"]["errors"] == []
    done = await api.data(TRANSPORT, {"input": {
        "siteId": to_global_id("Site", station), "transportMode": "RAIL", "transitDays": 6}},
        as_=faw)
    assert done["setTransportPreference"]["errors"] == []
    return station


async def test_each_customer_sets_its_own_preferences(api: Api) -> None:
    w = await build(api.db)
    await _faw_prefers_rail(api, w)
    faw = (await api.data(PREFS, as_=token("FAW-VW")))["preferences"]
    assert faw == {
        "organization": {"code": "FAW-VW"}, "units": "METRIC", "language": "de-DE",
        "timeZone": "Asia/Shanghai", "currency": "CNY", "updatedBy": "buyer.faw",
        "defaultDeliverySite": {"code": "CHANGCHUN-RAIL"},
        "transport": [{"site": {"code": "CHANGCHUN-RAIL"}, "transportMode": "RAIL",
                       "transitDays": 6}]}
    # GALANZ is untouched and sees its own (defaults).
    galanz = (await api.data(PREFS, as_=token("GALANZ")))["preferences"]
    assert galanz["organization"]["code"] == "GALANZ" and galanz["transport"] == []
    assert galanz["language"] == "zh-CN" and galanz["defaultDeliverySite"] is None
    # Naming the other customer is refused; sales reads any customer by id.
    other = await api.query(PREFS, {"c": to_global_id("Organization", w.org["FAW-VW"])},
                            as_=token("GALANZ"))
    assert other["data"] is None and "no such customer" in other["errors"][0]["message"]
    staff = await api.data(PREFS, {"c": to_global_id("Organization", w.org["FAW-VW"])},
                           as_=token("BAOSTEEL", "sales"))
    assert staff["preferences"]["language"] == "de-DE"


async def test_bad_preferences_are_refused_with_the_field(api: Api) -> None:
    w = await build(api.db)
    galanz = token("GALANZ")
    cases = [
        ({"language": "German"}, "language", "INVALID"),
        ({"timeZone": "Mars/Olympus"}, "timeZone", "INVALID"),
        ({"currency": "yuan"}, "currency", "INVALID"),
        ({"defaultDeliverySiteId": to_global_id("Site", w.site["FAW-VW"])},
         "defaultDeliverySiteId", "NOT_FOUND"),
    ]
    for change, field, code in cases:
        body = await api.data(UPDATE, {"input": change}, as_=galanz)
        [error] = body["updatePreferences"]["errors"]
        assert (error["field"], error["code"]) == (field, code), change
    bad_days = await api.data(TRANSPORT, {"input": {
        "siteId": to_global_id("Site", w.site["GALANZ"]), "transportMode": "WATER",
        "transitDays": 400}}, as_=galanz)
    assert bad_days["setTransportPreference"]["errors"][0]["field"] == "transitDays"
    # The mill's production staff may not change a customer's preferences.
    forbidden = await api.data(UPDATE, {"input": {
        "customerId": to_global_id("Organization", w.org["GALANZ"]), "language": "en"}},
        as_=token("BAOSTEEL", "production"))
    assert forbidden["updatePreferences"]["errors"][0]["code"] == "FORBIDDEN"
    missing = await api.data(UPDATE, {"input": {"language": "en"}},
                             as_=token("BAOSTEEL", "sales"))
    assert missing["updatePreferences"]["errors"][0]["field"] == "customerId"


REMOVE = """mutation($input: RemoveTransportPreferenceInput!) {
  removeTransportPreference(input: $input) {
    preferences { transport { site { code } } } errors { field message code } } }"""


async def test_only_the_customer_or_sales_change_its_transport(api: Api) -> None:
    w = await build(api.db)
    station = await _faw_prefers_rail(api, w)
    faw = to_global_id("Organization", w.org["FAW-VW"])
    site = to_global_id("Site", station)
    production = token("BAOSTEEL", "production")
    for mutation, name, extra in [
        (TRANSPORT, "setTransportPreference", {"transportMode": "ROAD", "transitDays": 2}),
        (REMOVE, "removeTransportPreference", {}),
    ]:
        body = await api.data(mutation, {"input": {"customerId": faw, "siteId": site, **extra}},
                              as_=production)
        [error] = body[name]["errors"]
        assert error["code"] == "FORBIDDEN", name
        assert error["message"] == "this needs the role customer or sales or admin", name
    kept = (await api.data(PREFS, as_=token("FAW-VW")))["preferences"]["transport"]
    assert kept == [{"site": {"code": "CHANGCHUN-RAIL"}, "transportMode": "RAIL",
                     "transitDays": 6}]
    removed = await api.data(REMOVE, {"input": {"customerId": faw, "siteId": site}},
                             as_=token("BAOSTEEL", "sales"))
    assert removed["removeTransportPreference"] == {
        "preferences": {"transport": []}, "errors": []}


async def test_the_order_form_is_each_customers_own(api: Api) -> None:
    w = await build(api.db)
    await _faw_prefers_rail(api, w)
    form = (await api.data(FORM, as_=token("FAW-VW")))["orderForm"]
    assert form["customer"] == {"code": "FAW-VW"}
    assert form["defaults"] == {
        "deliverySite": {"code": "CHANGCHUN-RAIL"}, "transportMode": "RAIL", "transitDays": 6,
        "firmness": "FIRM", "currency": "CNY", "language": "de-DE"}
    assert form["earliestDeliveryFrom"] == (mill_today() + timedelta(days=14 + 6)).isoformat()
    sites = {s["site"]["code"]: (s["transportMode"], s["transitDays"], s["default"])
             for s in form["deliverySites"]}
    # Its own warehouse (by its latest line: rail, 7 days) and the shared station; never
    # the mill's plant or the other customer's warehouse.
    assert sites == {"WH-FAW-VW": ("RAIL", 7, False), "CHANGCHUN-RAIL": ("RAIL", 6, True)}
    assert form["specs"] == [{"spec": {"code": "SP-FAW-VW"}, "lastUnitPrice": "5200.50"}]
    assert form["transportModes"] == ["ROAD", "RAIL", "WATER"]

    galanz = (await api.data(FORM, as_=token("GALANZ")))["orderForm"]
    assert galanz["defaults"]["deliverySite"] == {"code": "WH-GALANZ"}
    assert [s["spec"]["code"] for s in galanz["specs"]] == ["SP-GALANZ"]
    staff = await api.data(FORM, {"c": to_global_id("Organization", w.org["GALANZ"]),
                                  "site": to_global_id("Site", w.site["GALANZ"])},
                           as_=token("BAOSTEEL", "sales"))
    assert staff["orderForm"]["defaults"]["transitDays"] == 7


SAVE = """mutation($input: SaveViewInput!) { saveView(input: $input) {
    view { id name target filter landing } errors { field message code } } }"""
VIEWS = """{ savedViews { nodes { name target filter landing } } landingView { name } }"""


async def test_saved_views_are_per_user_and_round_trip_as_filters(api: Api) -> None:
    await build(api.db)
    ana, ben = token("FAW-VW", subject="ana"), token("FAW-VW", subject="ben")
    late = await api.data(SAVE, {"input": {
        "name": "Late DC04", "landing": True,
        "contracts": {"lateOnly": True, "grade": ["DC04"], "status": ["IN_PRODUCTION"],
                      "deliveryWindow": {"start": "2026-12-01"}}}}, as_=ana)
    view = late["saveView"]["view"]
    assert view["filter"] == {"lateOnly": True, "grade": ["DC04"], "status": ["IN_PRODUCTION"],
                              "deliveryWindow": {"start": "2026-12-01"}}
    assert (view["target"], view["landing"]) == ("CONTRACTS", True)
    # The saved filter runs as it is.
    ran = await api.query("query($f: ContractFilter) { contracts(filter: $f) { nodes { number }"
                          " } }", {"f": view["filter"]}, as_=ana)
    assert "errors" not in ran
    await api.data(SAVE, {"input": {"name": "Rail in transit", "shipments": {
        "mode": ["RAIL"], "delayedOnly": True}}}, as_=ana)
    mine = await api.data(VIEWS, as_=ana)
    assert [v["name"] for v in mine["savedViews"]["nodes"]] == ["Late DC04", "Rail in transit"]
    assert mine["landingView"] == {"name": "Late DC04"}
    assert await api.data(VIEWS, as_=ben) == {"savedViews": {"nodes": []}, "landingView": None}

    twice = await api.data(SAVE, {"input": {"name": "Late DC04", "contracts": {}}}, as_=ana)
    assert twice["saveView"]["errors"][0]["code"] == "CONFLICT"
    neither = await api.data(SAVE, {"input": {"name": "x"}}, as_=ana)
    assert neither["saveView"]["errors"][0]["code"] == "INVALID"
    # Ben can neither replace nor delete Ana's view.
    stolen = await api.data(SAVE, {"input": {"id": view["id"], "name": "mine now",
                                             "contracts": {}}}, as_=ben)
    assert stolen["saveView"]["errors"][0]["code"] == "NOT_FOUND"
    gone = await api.data("""mutation($id: ID!) { deleteView(input: {id: $id}) { deletedId
        errors { code } } }""", {"id": view["id"]}, as_=ben)
    assert gone["deleteView"]["errors"][0]["code"] == "NOT_FOUND"
    gone = await api.data("""mutation($id: ID!) { deleteView(input: {id: $id}) { deletedId
        errors { code } } }""", {"id": view["id"]}, as_=ana)
    assert gone["deleteView"]["deletedId"] == view["id"]
    assert (await api.data(VIEWS, as_=ana))["landingView"] is None

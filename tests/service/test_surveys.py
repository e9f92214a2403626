"""Satisfaction surveys: a completed dispute, a resolved urge and an ended quarter each send
one through the push worker; the customer's contacts answer (once each, again to change
it); a low rating reaches the staff who route it; the mill reads results and their trend;
the other customer sees none of it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from domain.calendar import mill_today
from domain.hotline import writes as hotline
from domain.service import surveys
from push.config import PushConfig
from push.worker import PERIODIC_JOBS, Worker, run_periodic
from resolvers.relay import to_global_id
from tests.disputes.test_disputes import customer, delivered_world, open_in, staff
from tests.support.api import MILL_ROLES, Api, token
from tests.support.factory import World

FAW = token("FAW-VW", subject="buyer.faw")
FAW_2 = token("FAW-VW", subject="planner.faw")
GALANZ = token("GALANZ", subject="buyer.galanz")
MILL = token("BAOSTEEL", *MILL_ROLES, subject="staff.mill")

SURVEYS = """query($f: SurveyFilter) { surveys(filter: $f) { nodes { id number area subject
    question open customer { code } myAnswer { rating comment }
    answers { contact rating comment } } } }"""
ANSWER = """mutation($input: AnswerSurveyInput!) { answerSurvey(input: $input) {
    survey { number } answer { contact rating comment } errors { field code message } } }"""
INBOX = "{ notifications { nodes { eventType title body } } }"
COMPLETE = """mutation($id: ID!) { transitionDispute(input: {disputeId: $id,
    action: COMPLETE, note: "accepted"}) { dispute { status } errors { code } } }"""
RESULTS = """query($c: ID, $pc: Boolean!, $pa: Boolean!) { surveyResults(customerId: $c,
    perCustomer: $pc, perArea: $pa) { customer { code } area period surveys answers
    averageRating lowRatings distribution } }"""


async def _send(api: Api, now: datetime | None = None) -> int:
    """The push worker's survey job, then its matching (which fills the inboxes)."""
    job = dict((name, j) for name, _, j in PERIODIC_JOBS)["surveys"]
    sent = await run_periodic(api.db, "surveys", 60.0, job, now=now or datetime.now(UTC))
    await Worker(api.db, PushConfig()).step()
    return sent


async def _resolved_urge(api: Api, w: World) -> None:
    faw, mill = customer(w), staff(w, "sales")
    t = await hotline.open_urge(api.db, faw, line_id=w.line["FAW-VW"], reason="late",
                                needed_by=mill_today() + timedelta(days=9),
                                answer_within=timedelta(hours=2))
    await hotline.acknowledge(api.db, t.id, actor=mill)
    await hotline.promise(api.db, t.id, promised_date=mill_today() + timedelta(days=8),
                          actor=mill)
    await hotline.resolve(api.db, t.id, resolution="shipped", actor=mill)


async def _faw_surveys(api: Api, as_: str = FAW) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = (await api.data(SURVEYS, as_=as_))["surveys"]["nodes"]
    return found


async def test_dispute_and_urge_send_a_survey_each_that_contacts_answer(api: Api) -> None:
    w = await delivered_world(api.db)
    dispute = await open_in(api.db, w, "correcting")
    number = await api.db.fetchval("SELECT number FROM quality_dispute WHERE id = $1", dispute)
    done = await api.data(COMPLETE, {"id": to_global_id("QualityDispute", dispute)}, as_=FAW)
    assert done["transitionDispute"]["dispute"]["status"] == "COMPLETED"
    await _resolved_urge(api, w)

    assert await _send(api) == 2
    assert await _send(api) == 0  # read once: the job's cursor moved past them
    got = await _faw_surveys(api)
    assert sorted((s["area"], s["subject"]) for s in got) == [
        ("DISPUTE", number), ("HOTLINE", "URG-000001")]
    assert all(s["open"] and s["customer"] == {"code": "FAW-VW"} for s in got)
    assert number in next(s for s in got if s["area"] == "DISPUTE")["question"]
    # The customer is asked in its inbox without a rule of its own.
    inbox = (await api.data(INBOX, as_=FAW))["notifications"]["nodes"]
    asked = [n for n in inbox if n["eventType"] == "service.survey_sent"]
    assert len(asked) == 2 and any(number in n["title"] for n in asked)
    # GALANZ hears of none of it.
    assert await _faw_surveys(api, GALANZ) == []
    galanz_inbox = (await api.data(INBOX, as_=GALANZ))["notifications"]["nodes"]
    assert not [n for n in galanz_inbox if n["eventType"].startswith("service.")]

    survey = next(s for s in got if s["area"] == "DISPUTE")
    ok = await api.data(ANSWER, {"input": {"surveyId": survey["id"], "rating": 4,
                                           "comment": "fast containment"}}, as_=FAW)
    assert ok["answerSurvey"] == {"survey": {"number": survey["number"]},
                                  "answer": {"contact": "buyer.faw", "rating": 4,
                                             "comment": "fast containment"}, "errors": []}
    # Answering again replaces the contact's answer; a colleague answers for themself.
    await api.data(ANSWER, {"input": {"surveyId": survey["id"], "rating": 5}}, as_=FAW)
    await api.data(ANSWER, {"input": {"surveyId": survey["id"], "rating": 3,
                                      "comment": "slow 8D report"}}, as_=FAW_2)
    seen = next(s for s in await _faw_surveys(api) if s["id"] == survey["id"])
    assert seen["myAnswer"] == {"rating": 5, "comment": None}
    assert sorted((a["contact"], a["rating"]) for a in seen["answers"]) == [
        ("buyer.faw", 5), ("planner.faw", 3)]
    unanswered = await api.data(SURVEYS, {"f": {"unansweredOnly": True}}, as_=FAW)
    assert [s["area"] for s in unanswered["surveys"]["nodes"]] == ["HOTLINE"]

    # Refusals: a rating out of range, the mill answering, another customer's survey
    # (which reads like one that does not exist).
    bad = await api.data(ANSWER, {"input": {"surveyId": survey["id"], "rating": 6}}, as_=FAW)
    assert bad["answerSurvey"]["errors"][0]["field"] == "rating"
    mill = await api.data(ANSWER, {"input": {"surveyId": survey["id"], "rating": 5}}, as_=MILL)
    assert mill["answerSurvey"]["errors"][0]["code"] == "FORBIDDEN"
    theirs = await api.data(ANSWER, {"input": {"surveyId": survey["id"], "rating": 1}},
                            as_=GALANZ)
    nowhere = await api.data(ANSWER, {"input": {"surveyId": to_global_id("Survey", 2**40),
                                                "rating": 1}}, as_=GALANZ)
    assert theirs["answerSurvey"]["errors"] == nowhere["answerSurvey"]["errors"]
    assert theirs["answerSurvey"]["errors"][0]["code"] == "NOT_FOUND"
    one = "query($id: ID!) { survey(id: $id) { number } }"
    assert (await api.data(one, {"id": survey["id"]}, as_=GALANZ))["survey"] is None
    assert (await api.data(one, {"id": survey["id"]}, as_=FAW))["survey"] is not None

    # Closed surveys take no answers.
    await api.db.execute("UPDATE survey SET closes_at = now() - interval '1 second'")
    late = await api.data(ANSWER, {"input": {"surveyId": survey["id"], "rating": 2}}, as_=FAW)
    assert late["answerSurvey"]["errors"][0]["code"] == "INVALID_TRANSITION"


async def test_a_low_rating_reaches_the_staff_who_route_it(api: Api) -> None:
    w = await delivered_world(api.db)
    await _resolved_urge(api, w)
    await _send(api)
    lead = token("BAOSTEEL", "sales", subject="service.lead")
    rule = """mutation($in: CreatePushRuleInput!) { createPushRule(input: $in) {
        errors { field code } } }"""
    made = await api.data(rule, {"in": {"name": "low ratings", "personal": True,
                                        "eventTypes": ["service.low_rating"]}}, as_=lead)
    assert made["createPushRule"]["errors"] == []
    [survey] = await _faw_surveys(api)
    await api.data(ANSWER, {"input": {"surveyId": survey["id"], "rating": 2,
                                      "comment": "three days to acknowledge"}}, as_=FAW)
    # Changed to another low rating: the staff already know; it is not raised again.
    await api.data(ANSWER, {"input": {"surveyId": survey["id"], "rating": 1}}, as_=FAW)
    await api.data(ANSWER, {"input": {"surveyId": survey["id"], "rating": 4}}, as_=FAW_2)
    await Worker(api.db, PushConfig()).step()
    inbox = (await api.data(INBOX, as_=lead))["notifications"]["nodes"]
    low = [n for n in inbox if n["eventType"] == "service.low_rating"]
    assert len(low) == 1, inbox
    assert "FAW-VW" in low[0]["title"] and "three days to acknowledge" in low[0]["body"]
    # The mill's own event: the customer neither hears of it nor reads it.
    faw_inbox = (await api.data(INBOX, as_=FAW))["notifications"]["nodes"]
    assert not [n for n in faw_inbox if n["eventType"] == "service.low_rating"]


async def test_each_quarter_every_customer_with_contracts_is_asked_once(api: Api) -> None:
    await delivered_world(api.db)
    # The factory's contracts were made now: a quarter that ended before has no survey.
    assert await _send(api) == 0
    next_quarter = surveys.quarter_of(mill_today())[2] + timedelta(days=2)
    at = datetime(next_quarter.year, next_quarter.month, next_quarter.day, 12, tzinfo=UTC)
    assert await _send(api, at) == 2
    assert await _send(api, at + timedelta(minutes=2)) == 0
    name = surveys.quarter_of(mill_today())[0]
    got = await _faw_surveys(api)
    assert [(s["area"], s["subject"]) for s in got] == [("QUARTERLY", name)]


async def test_results_and_their_trend_for_the_mill_only(api: Api) -> None:
    w = await delivered_world(api.db)
    for cust, quarter, rating in (("FAW-VW", 1, 4), ("FAW-VW", 2, 2), ("GALANZ", 2, 5)):
        org = w.org[cust]
        sent = datetime.now(UTC) - timedelta(days=120 * quarter)
        sid = await api.db.fetchval(
            "INSERT INTO survey (customer_org_id, area, subject, question, sent_at,"
            " closes_at) VALUES ($1, 'quarterly', $2, 'q', $3::timestamptz,"
            " $3::timestamptz + interval '30 days')"
            " RETURNING id", org, f"Q{quarter}", sent)
        await api.db.execute(
            "INSERT INTO survey_answer (survey_id, customer_org_id, contact, rating,"
            " answered_at, updated_at) VALUES ($1, $2, 'buyer', $3, $4, $4)",
            sid, org, rating, sent)
    faw = to_global_id("Organization", w.org["FAW-VW"])
    rows = (await api.data(RESULTS, {"c": faw, "pc": True, "pa": True}, as_=MILL))[
        "surveyResults"]
    # Oldest first: the trend of FAW-VW's quarterly answers, 2 then 4.
    assert [(r["customer"]["code"], r["area"], r["averageRating"], r["lowRatings"])
            for r in rows] == [("FAW-VW", "QUARTERLY", "2.00", 1),
                               ("FAW-VW", "QUARTERLY", "4.00", 0)]
    assert rows[0]["distribution"] == [0, 1, 0, 0, 0]
    summed = (await api.data(RESULTS, {"c": None, "pc": False, "pa": False}, as_=MILL))[
        "surveyResults"]
    assert [(r["customer"], r["area"], r["answers"], r["averageRating"]) for r in summed] == [
        (None, None, 2, "3.50"), (None, None, 1, "4.00")]
    for who in (FAW, token("BAOSTEEL", "sales", subject="x")):
        body = await api.query(RESULTS, {"c": faw, "pc": True, "pa": True}, as_=who)
        if who == FAW:
            assert body["data"] is None and body["errors"][0]["extensions"]["code"] == \
                "FORBIDDEN"
        else:
            assert "errors" not in body

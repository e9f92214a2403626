"""Satisfaction surveys: sent when a dispute completes, when an urge is resolved, and
each quarter; answered by the customer's contacts; results and their trend for the mill.

A survey is one customer's, about one subject: a dispute (its number), an urge (its
ticket number) or a quarter (``2026-Q3``), one per customer and subject. Sending it is
the event `service.survey_sent` for the customer, with ``notify_org`` so that it lands
in the customer's inbox without a rule, and its push rules (webhook, e-mail) take it as
any other event. :func:`send_surveys`, a job of the push worker, follows the outbox from
its own cursor (`dispute.completed`, `urge.resolved`) and sends the quarter's surveys
once the quarter has ended.

Each contact (the token's subject) answers a survey once: a rating 1-5 and a comment;
answering again while the survey is open (``OPEN_FOR`` after it was sent) replaces the
answer, so the latest word counts and nothing is counted twice. A rating at or under the
low mark (``KEYLINK_SURVEY_LOW_RATING``, 2) is the mill's own event `service.low_rating`
(no customer hears of it), which staff route with push rules; an answer changed from
one low rating to another raises it once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from domain import events
from domain.actor import Actor
from domain.calendar import MILL_TZ
from domain.checks import trimmed
from domain.db import Database, Executor
from domain.errors import Invalid, InvalidTransition, NotFound
from domain.service.model import PERMISSIONS
from domain.tenancy import Scope

AREAS = ("dispute", "hotline", "quarterly")
# How long a survey takes answers after it was sent.
OPEN_FOR = timedelta(days=30)
QUESTIONS = {
    "dispute": "How satisfied are you with how quality dispute {subject} was handled, "
               "from containment to the correction?",
    "hotline": "How satisfied are you with the mill's answers to your urge {subject}?",
    "quarterly": "How satisfied were you with the mill's service in {subject}: quality, "
                 "delivery and how you were answered?",
}
# The outbox's events that send a survey: (area, the payload's subject key).
OCCASIONS = {"dispute.completed": ("dispute", "dispute"), "urge.resolved": ("hotline", "ticket")}

SURVEY_COLS = ("s.id, s.customer_org_id, s.area, s.subject, s.subject_id, s.question,"
               " s.sent_at, s.closes_at")
ANSWER_COLS = ("a.survey_id, a.customer_org_id, a.contact, a.rating, a.comment,"
               " a.answered_at, a.updated_at")


@dataclass(frozen=True, slots=True)
class Survey:
    id: int
    customer_org_id: int
    area: str
    subject: str
    subject_id: int | None
    question: str
    sent_at: datetime
    closes_at: datetime

    @property
    def number(self) -> str:
        return f"SVY-{self.id:06d}"

    def open(self, now: datetime) -> bool:
        return now < self.closes_at


@dataclass(frozen=True, slots=True)
class SurveyAnswer:
    survey_id: int
    customer_org_id: int
    contact: str
    rating: int
    comment: str | None
    answered_at: datetime
    updated_at: datetime


def quarter_of(day: date) -> tuple[str, date, date]:
    """The quarter a day falls in: its name (``2026-Q3``), first and last day."""
    q = (day.month - 1) // 3
    start = date(day.year, 3 * q + 1, 1)
    end = date(day.year + (q == 3), (3 * q + 3) % 12 + 1, 1) - timedelta(days=1)
    return f"{day.year}-Q{q + 1}", start, end


async def send(tx: Executor, customer_org_id: int, area: str, subject: str,
               subject_id: int | None, at: datetime, actor: str) -> Survey | None:
    """Send the survey of ``subject`` to the customer, unless it was sent already; its
    event goes to the customer's inbox and push rules."""
    row = await tx.fetchrow(
        "INSERT INTO survey AS s (customer_org_id, area, subject, subject_id, question,"
        " sent_at, closes_at) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        f" ON CONFLICT DO NOTHING RETURNING {SURVEY_COLS}",
        customer_org_id, area, subject, subject_id,
        QUESTIONS[area].format(subject=subject), at, at + OPEN_FOR)
    if row is None:
        return None
    survey = Survey(**dict(row))
    await events.append(
        tx, "service.survey_sent", org_id=customer_org_id, aggregate_type="survey",
        aggregate_id=survey.id, actor=actor, occurred_at=at,
        payload={"survey": survey.number, "area": area, "subject": subject,
                 "question": survey.question, "closesAt": survey.closes_at.isoformat(),
                 # The customer is asked without a rule of its own.
                 "notify_org": True})
    return survey


# Who sends surveys: the push worker's job.
SURVEYOR = Actor.system("keylink:surveys")
_BATCH = 500


async def send_surveys(db: Database, now: datetime) -> int:
    """The push worker's job: a survey for each dispute completed and urge resolved
    since the last run (read from the outbox by the job's cursor, a batch per
    transaction; one worker at a time), and, once a quarter has ended, one per customer
    that had a contract by its end. Returns how many were sent."""
    sent = 0
    for _ in range(50):
        async with db.transaction() as tx:
            after = await tx.fetchval("SELECT seq FROM push_cursor WHERE name = 'surveys'"
                                      " FOR UPDATE SKIP LOCKED")
            if after is None:
                return sent  # another worker is at it
            # Up to the latest event now (commit order is sequence order), then what of
            # it sends surveys: the cursor moves past the rest without reading it.
            upto = await tx.fetchval("SELECT coalesce(max(seq), 0) FROM domain_event")
            rows = await tx.fetch(
                "SELECT seq, event_type, org_id, aggregate_id, payload FROM domain_event"
                " WHERE seq > $1 AND seq <= $2 AND event_type = ANY($3::text[])"
                " ORDER BY seq LIMIT $4",
                after, upto, list(OCCASIONS), _BATCH)
            for r in rows:
                area, key = OCCASIONS[r["event_type"]]
                subject = r["payload"].get(key)
                if r["org_id"] is None or not isinstance(subject, str):
                    continue
                if await send(tx, r["org_id"], area, subject, r["aggregate_id"], now,
                              SURVEYOR.subject):
                    sent += 1
            last = rows[-1]["seq"] if len(rows) == _BATCH else max(upto, after)
            await tx.execute("UPDATE push_cursor SET seq = $1 WHERE name = 'surveys'", last)
        if len(rows) < _BATCH:
            break
    return sent + await send_quarterly(db, now)


async def send_quarterly(db: Database, now: datetime) -> int:
    """The survey of the quarter before ``now``'s, to every customer that had a contract
    by its end and has not had it yet."""
    name, _, end = quarter_of(quarter_of(now.astimezone(MILL_TZ).date())[1]
                                  - timedelta(days=1))
    async with db.transaction() as tx:
        customers = await tx.fetch(
            "SELECT o.id FROM organization o WHERE o.kind = 'customer'"
            " AND EXISTS (SELECT 1 FROM contract c WHERE c.customer_org_id = o.id"
            "   AND (c.created_at AT TIME ZONE 'Asia/Shanghai')::date <= $1)"
            " AND NOT EXISTS (SELECT 1 FROM survey s WHERE s.customer_org_id = o.id"
            "   AND s.area = 'quarterly' AND s.subject = $2) ORDER BY o.id",
            end, name)
        sent = 0
        for c in customers:
            if await send(tx, c["id"], "quarterly", name, None, now, SURVEYOR.subject):
                sent += 1
        return sent


async def answer(
    db: Database, actor: Actor, survey_id: int, rating: int, comment: str | None, *,
    low_rating: int = 2, now: datetime | None = None,
) -> tuple[Survey, SurveyAnswer]:
    """A customer's contact answers its organization's survey (again: replaces its
    answer while the survey is open)."""
    PERMISSIONS.check(actor, "answer_survey")
    if not 1 <= rating <= 5:
        raise Invalid("a rating from 1 (poor) to 5 (excellent)", field="rating")
    text = trimmed(comment, "comment", limit=2000, too_long="at most 2,000 characters")
    async with db.transaction() as tx:
        at = now or await tx.fetchval("SELECT now()")
        row = await tx.fetchrow(
            f"SELECT {SURVEY_COLS} FROM survey s WHERE s.id = $2"
            f" AND {Scope.owned('s.customer_org_id')} FOR SHARE",
            actor.scope.org_id, survey_id)
        if row is None:
            raise NotFound("no such survey", field="surveyId")
        survey = Survey(**dict(row))
        if not survey.open(at):
            raise InvalidTransition("the survey closed on "
                                    f"{survey.closes_at.astimezone(MILL_TZ).date()}",
                                    field="surveyId")
        before: int | None = await tx.fetchval(
            "SELECT rating FROM survey_answer WHERE survey_id = $1 AND contact = $2",
            survey.id, actor.subject)
        got = await tx.fetchrow(
            "INSERT INTO survey_answer AS a (survey_id, customer_org_id, contact, rating,"
            " comment, answered_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)"
            " ON CONFLICT (survey_id, contact) DO UPDATE SET rating = EXCLUDED.rating,"
            f" comment = EXCLUDED.comment, updated_at = EXCLUDED.updated_at"
            f" RETURNING {ANSWER_COLS}",
            survey.id, survey.customer_org_id, actor.subject, rating, text, at)
        assert got is not None
        stored = SurveyAnswer(**dict(got))
        if rating <= low_rating and (before is None or before > low_rating):
            code = await tx.fetchval("SELECT code FROM organization WHERE id = $1",
                                     survey.customer_org_id)
            # The mill's own event: no customer hears of it, staff route it by rules.
            await events.append(
                tx, "service.low_rating", org_id=None, aggregate_type="survey",
                aggregate_id=survey.id, actor=actor.subject, occurred_at=at,
                payload={"survey": survey.number, "customer": code,
                         "customerId": survey.customer_org_id, "area": survey.area,
                         "subject": survey.subject, "rating": rating, "contact": actor.subject,
                         "comment": text, "lowRating": low_rating})
        return survey, stored


@dataclass(frozen=True)
class SurveyFilter:
    areas: Sequence[str] = ()
    customer_org_id: int | None = None
    # Only surveys this contact has not answered and that are still open at this time.
    unanswered_by: str | None = None
    open_at: datetime | None = None


async def surveys_by_ids(db: Executor, scope: Scope, ids: Sequence[int]) -> list[Survey]:
    rows = await db.fetch(
        f"SELECT {SURVEY_COLS} FROM survey s WHERE s.id = ANY($2::bigint[])"
        f" AND {Scope.owned('s.customer_org_id')}", scope.org_id, list(ids))
    return [Survey(**dict(r)) for r in rows]


async def list_surveys(db: Executor, scope: Scope, flt: SurveyFilter, limit: int,
                       before_id: int | None) -> list[Survey]:
    """A page of surveys, newest first: a customer's own, the mill all."""
    where = scope.where(Scope.owned("s.customer_org_id"))
    where.any_of("s.area", flt.areas)
    where.given(flt.customer_org_id, "s.customer_org_id = {}")
    where.given(flt.open_at, "s.closes_at > {}")
    where.given(flt.unanswered_by, "NOT EXISTS (SELECT 1 FROM survey_answer a"
                " WHERE a.survey_id = s.id AND a.contact = {})")
    rows = await where.newest(db, f"SELECT {SURVEY_COLS} FROM survey s", "s", before_id,
                              limit)
    return [Survey(**dict(r)) for r in rows]


async def answers_by_survey_ids(db: Executor, scope: Scope, ids: Sequence[int]
                                ) -> dict[int, list[SurveyAnswer]]:
    """Each survey's answers, oldest first: a customer sees its own organization's."""
    rows = await db.fetch(
        f"SELECT {ANSWER_COLS} FROM survey_answer a WHERE a.survey_id = ANY($2::bigint[])"
        f" AND {Scope.owned('a.customer_org_id')} ORDER BY a.survey_id, a.answered_at,"
        " a.contact", scope.org_id, list(ids))
    out: dict[int, list[SurveyAnswer]] = defaultdict(list)
    for r in rows:
        out[r["survey_id"]].append(SurveyAnswer(**dict(r)))
    return out


@dataclass(frozen=True, slots=True)
class ResultRow:
    """The answers of one customer (None: all customers) and area (None: all areas) in
    one period."""

    customer_org_id: int | None
    area: str | None
    period: str
    period_start: date
    surveys: int
    answers: int
    average_rating: Decimal | None
    low_ratings: int
    # Answers by rating, 1 to 5.
    distribution: tuple[int, int, int, int, int]


GROUPINGS = {"quarter": "quarter", "month": "month"}


async def results(
    db: Executor, actor: Actor, *, since: date, until: date, by: str = "quarter",
    customer_org_id: int | None = None, areas: Sequence[str] = (), per_customer: bool = True,
    per_area: bool = True, low_rating: int = 2,
) -> list[ResultRow]:
    """Survey results for the mill's staff: per period (quarter or month) of the surveys'
    sending, per customer and per area unless asked to sum over them; oldest period
    first, so a series reads as the trend. A customer is refused."""
    PERMISSIONS.check(actor, "read_survey_results")
    if by not in GROUPINGS:
        raise Invalid("group by quarter or month", field="by")
    if until < since:
        raise Invalid("the period ends before it starts", field="until")
    bad = [a for a in areas if a not in AREAS]
    if bad:
        raise Invalid(f"areas are {', '.join(AREAS)}", field="areas")
    customer = "s.customer_org_id" if per_customer else "NULL::bigint"
    area = "s.area" if per_area else "NULL::text"
    rows = await db.fetch(
        f"SELECT {customer} AS customer_org_id, {area} AS area,"
        f" date_trunc('{GROUPINGS[by]}', s.sent_at AT TIME ZONE 'Asia/Shanghai')::date"
        "   AS period_start,"
        " count(DISTINCT s.id) AS surveys, count(a.rating) AS answers,"
        " round(avg(a.rating), 2) AS average_rating,"
        " count(a.rating) FILTER (WHERE a.rating <= $5) AS low_ratings,"
        " array[count(*) FILTER (WHERE a.rating = 1), count(*) FILTER (WHERE a.rating = 2),"
        "   count(*) FILTER (WHERE a.rating = 3), count(*) FILTER (WHERE a.rating = 4),"
        "   count(*) FILTER (WHERE a.rating = 5)] AS distribution"
        " FROM survey s LEFT JOIN survey_answer a ON a.survey_id = s.id"
        " WHERE (s.sent_at AT TIME ZONE 'Asia/Shanghai')::date BETWEEN $1 AND $2"
        " AND ($3::bigint IS NULL OR s.customer_org_id = $3)"
        " AND (cardinality($4::text[]) = 0 OR s.area = ANY($4::text[]))"
        " GROUP BY 1, 2, 3 ORDER BY 3, 1, 2",
        since, until, customer_org_id, list(areas), low_rating)
    return [_result(r, by) for r in rows]


def _result(r: Any, by: str) -> ResultRow:
    start: date = r["period_start"]
    period = (f"{start.year}-Q{(start.month - 1) // 3 + 1}" if by == "quarter"
              else f"{start.year}-{start.month:02d}")
    d = r["distribution"]
    return ResultRow(customer_org_id=r["customer_org_id"], area=r["area"], period=period,
                     period_start=start, surveys=r["surveys"], answers=r["answers"],
                     average_rating=r["average_rating"], low_ratings=r["low_ratings"],
                     distribution=(d[0], d[1], d[2], d[3], d[4]))

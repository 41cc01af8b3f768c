"""Clinic benchmark: the patient list with summaries for a clinic of 5,000 patients.

Seeds one clinic with --patients N (default 5,000) patients, each with cgm and bgm summary rows for
the four periods (synthetic values written in bulk, not computed: this measures the list, not the
summary updater), 10 tags (1-3 per patient) and some reviews. Then times GET
/v1/clinics/:id/patients through the app (in-process ASGI client: routing, the caller's session,
the query, the page's summaries, JSON) for four kinds of request a clinician makes: sorted by time
in range, filtered to any low > 4 % sorted by it, one tag sorted by last data, and a name search.
The floor is the bare indexed query in the same run: the page's patient ids, by the driver's
plain SQL, joined and sorted the same way (no summaries for the page, no HTTP, no JSON).

Rows: clinic.<db>.list_p50 / list_p99 (ms), floor the floor's p50 / p99; target p99 < 200 ms.

Usage: python bench/clinic.py [--json PATH] [--patients N] [--requests R]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import orjson
from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert

from bench.common import Result, fresh_database, postgres_url, write_json
from inlet.accounts import clinics as c
from inlet.app import create_app
from inlet.db.schema import (
    SUMMARY_FIELDS,
    clinic_patient_tags,
    clinic_patients,
    clinic_reviews,
    summaries,
    summary_periods,
    users,
)
from inlet.services import create_services
from inlet.settings import Settings
from inlet.summaries.patients import flat_from_columns

P99_TARGET_MS = 200.0
NOW = 1_796_000_000_000_000
NAMES = ("Smith", "Jones", "Garcia", "Chen", "Okafor", "Novak", "Silva", "Khan", "Müller", "Rossi")


def seed(engine: Engine, patients: int) -> tuple[str, str, list[str]]:
    """The clinic id, a clinician's session token and the clinic's tag ids."""
    rng = random.Random(15)
    services = create_services(
        Settings(database_url=str(engine.url), password_hashing="fast-insecure-for-tests"), engine
    )
    with engine.begin() as conn:
        doc = services.accounts.create_user(
            conn,
            username="doc@example.org",
            password=None,
            emails=["doc@example.org"],
            custodial=False,
            profile={},
        )
        token = services.accounts.create_session(conn, doc.id)
        clinic = c.create_clinic(conn, NOW, "Bench clinic", {})
        c.add_clinician(
            conn, NOW, clinic.id, doc.id, email="doc@example.org", name="Doc", roles=[c.CLINIC_ADMIN]
        )
        tags = [c.create_tag(conn, NOW, clinic.id, f"tag {i}") for i in range(10)]
        ids = [f"{i + 1:032x}" for i in range(patients)]
        user_rows, patient_rows, tag_rows, summary_rows, period_rows, review_rows = [], [], [], [], [], []
        for i, user_id in enumerate(ids):
            mine = rng.sample(tags, rng.randint(1, 3))
            user_rows.append(
                {
                    "id": user_id,
                    "username": None,
                    "emails": [],
                    "roles": [],
                    "email_verified": False,
                    "custodial": True,
                    "profile": {},
                    "created_time": NOW,
                }
            )
            name = f"{rng.choice(('Ann', 'Bea', 'Cal', 'Dee', 'Eli'))} {rng.choice(NAMES)} {i}"
            patient_rows.append(
                {
                    "clinic_id": clinic.id,
                    "user_id": user_id,
                    "doc": {"fullName": name, "birthDate": "2010-01-01", "tags": mine},
                    "permissions": {"view": {}},
                    "created_time": NOW + i,
                    "updated_time": NOW + i,
                }
            )
            tag_rows += [{"clinic_id": clinic.id, "user_id": user_id, "tag_id": t} for t in mine]
            if rng.random() < 0.3:
                review_rows.append(
                    {"clinic_id": clinic.id, "user_id": user_id, "clinician_id": doc.id, "time": NOW - i}
                )
            if rng.random() < 0.05:
                continue  # no data
            last = NOW - rng.randrange(0, 30 * 86_400_000_000)
            for kind in ("cgm", "bgm"):
                flat = {}
                for period in ("1d", "7d", "14d", "30d"):
                    values = {f: rng.random() for f in SUMMARY_FIELDS}
                    values.update({f"{f}Delta": rng.random() - 0.5 for f in SUMMARY_FIELDS})
                    period_rows.append(
                        {"user_id": user_id, "type": kind, "period": period, "last_data": last, **values}
                    )
                    flat[period] = flat_from_columns(values, kind)
                summary_rows.append(
                    {
                        "user_id": user_id,
                        "type": kind,
                        "last_data": last,
                        "first_data": last - 10**13,
                        "last_updated": NOW,
                        "doc": {"periods": {}},
                        "clinic_periods": orjson.dumps(flat).decode(),  # as the updater stores it
                    }
                )
        for table, rows in (
            (users, user_rows),
            (clinic_patients, patient_rows),
            (clinic_patient_tags, tag_rows),
            (summaries, summary_rows),
            (summary_periods, period_rows),
            (clinic_reviews, review_rows),
        ):
            for start in range(0, len(rows), 2000):
                conn.execute(insert(table), rows[start : start + 2000])
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    else:
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    return clinic.id, token, tags


def requests(tags: list[str]) -> list[tuple[dict[str, str], str]]:
    """(query parameters, the floor's ORDER BY and extra WHERE) per kind of request."""
    return [
        (
            {"sort": "-timeInTargetPercent", "sortType": "cgm", "period": "14d", "limit": "50"},
            'ORDER BY sp."timeInTargetPercent" DESC NULLS LAST',
        ),
        (
            {
                "cgm.timeInAnyLowPercent": ">0.04",
                "sort": "-timeInAnyLowPercent",
                "period": "14d",
                "limit": "50",
            },
            'AND sp."timeInAnyLowPercent" > 0.04 ORDER BY sp."timeInAnyLowPercent" DESC NULLS LAST',
        ),
        (
            {"tags": tags[0], "sort": "-lastData", "period": "7d", "limit": "50"},
            "AND EXISTS (SELECT 1 FROM clinic_patient_tags t WHERE t.clinic_id = cp.clinic_id "
            f"AND t.user_id = cp.user_id AND t.tag_id = '{tags[0]}') ORDER BY sp.last_data DESC NULLS LAST",
        ),
        ({"search": "smith", "sort": "+fullName", "limit": "50"}, ""),
    ]


def floor_sql(engine: Engine, clinic_id: str, tail: str, period: str) -> str:
    if not tail:  # the search: names as the list compares them
        doc = (
            "lower(cp.doc ->> 'fullName')"
            if engine.dialect.name == "postgresql"
            else "lower(json_extract(cp.doc, '$.fullName'))"
        )
        like = "'%%smith%%'" if engine.dialect.name == "postgresql" else "'%smith%'"  # psycopg's % escape
        tail = f"AND {doc} LIKE {like} ORDER BY {doc}"
    return (
        "SELECT cp.user_id FROM clinic_patients cp LEFT JOIN summary_periods sp ON sp.user_id = cp.user_id "
        f"AND sp.type = 'cgm' AND sp.period = '{period}' WHERE cp.clinic_id = '{clinic_id}' {tail} LIMIT 50"
    )


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(kind: str, url: str | None, patients: int, rounds: int) -> list[Result]:
    with fresh_database(kind, url) as engine:
        clinic_id, token, tags = seed(engine, patients)
        settings = Settings(
            database_url=str(engine.url.render_as_string(hide_password=False)),
            password_hashing="fast-insecure-for-tests",
        )
        app = create_app(services=create_services(settings, engine))
        ours: list[float] = []
        floor: list[float] = []
        kinds = requests(tags)
        with TestClient(app) as client:
            headers = {"x-tidepool-session-token": token}
            for params, _ in kinds:  # warm up
                assert (
                    client.get(
                        f"/v1/clinics/{clinic_id}/patients", params=params, headers=headers
                    ).status_code
                    == 200
                )
            for i in range(rounds):
                params, tail = kinds[i % len(kinds)]
                start = time.perf_counter()
                response = client.get(f"/v1/clinics/{clinic_id}/patients", params=params, headers=headers)
                ours.append((time.perf_counter() - start) * 1000)
                assert response.status_code == 200, response.text
                sql = floor_sql(engine, clinic_id, tail, params.get("period", "14d"))
                start = time.perf_counter()
                with engine.connect() as conn:
                    ids = [row[0] for row in conn.exec_driver_sql(sql)]
                floor.append((time.perf_counter() - start) * 1000)
                assert len(ids) == len(response.json()["data"]), (params, len(ids))
        results = []
        for label, q, target in (("list_p50", 0.5, None), ("list_p99", 0.99, P99_TARGET_MS)):
            value, base = pct(ours, q), pct(floor, q)
            results.append(
                Result(
                    f"clinic.{kind}.{label}",
                    round(value, 2),
                    "ms",
                    round(base, 2),
                    round(value / base, 2),
                    target,
                )
            )
        print(
            f"{kind}: {patients} patients, {rounds} requests, median of ours {statistics.median(ours):.1f} ms"
        )
        return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json")
    parser.add_argument("--patients", type=int, default=5000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    results = run("sqlite", None, args.patients, args.requests)
    url = postgres_url()
    if url is not None:
        results += run("postgresql", url, args.patients, args.requests)
    for result in results:
        print(result.line())
    write_json(args.json, results)


if __name__ == "__main__":
    main()

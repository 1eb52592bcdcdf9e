"""Scale: the design's ceilings, and which partitions a burst with an attacker heats.

    python -m bench.scale [--quick] [--output PATH]   (this section, and docs/capacity.md)

Two parts, both computed here rather than by hand:

1. A capacity model. The in-process app on moto serves each request type a few times
   with every DynamoDB call recorded; bench.capacity turns the calls into the capacity
   units DynamoDB would charge, and the requests' in-process time stands in for Lambda
   duration. Against AWS's published default quotas (LIMITS), that gives the sustained
   sign-ins and authenticated requests per second each limit allows, and which binds
   first, for the design before sharding the audit index and after.
2. A simulation. Each simulated second, legitimate users sign in while an attacker
   sprays wrong passwords at unknown names and at real accounts. Every DynamoDB write is
   recorded by the partition key it lands on (table and index), per simulated second.
   The design before this change (one `AUDIT` index key, every event indexed, one
   partition for events without a user) is derived from the same writes.
"""

from __future__ import annotations

from .inprocess import use_fake_aws

STAGE = "scale"
use_fake_aws(STAGE)  # before anything creates an AWS client

import logging  # noqa: E402
import time  # noqa: E402
from collections import Counter, defaultdict  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import pyotp  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from authapi.audit.models import AUDIT_SHARDS  # noqa: E402
from authapi.core.config import Settings  # noqa: E402
from authapi.main import create_app  # noqa: E402
from infra.template import load_template  # noqa: E402
from tests.support import Clock  # noqa: E402

from .capacity import spending  # noqa: E402
from .inprocess import create_enrolled_user, patched_clock, service_in_moto  # noqa: E402
from .report import Target, markdown_table, publish, section_parser  # noqa: E402
from .sdk_calls import Call, SdkTimer, recording, timed_sdk  # noqa: E402

SECTION = "## Scale: ceilings and an attacker's burst"
DOCS = Path(__file__).resolve().parents[1] / "docs" / "capacity.md"
DOCS_BEGIN = "<!-- bench.scale: begin -->"
DOCS_END = "<!-- bench.scale: end -->"
PASSWORD = "scale benchmark passphrase 42"  # noqa: S105 - a made-up test user
WRONG = "not the password, attacker"

# AWS's published default quotas (us-east-1), the ones a sign-in meets. All adjustable
# except the per-partition limits.
PARTITION_WCU = 1_000  # writes per second per partition key, table or index
PARTITION_RCU = 3_000
TABLE_QUOTA_WCU = 40_000  # on-demand table, per-table default maximum
TABLE_QUOTA_RCU = 40_000
ON_DEMAND_START_WCU = 4_000  # a new on-demand table serves this at once, then doubles
LAMBDA_CONCURRENCY = 1_000  # per account and region
LAMBDA_SCALE_OUT = 1_000  # more concurrent executions per function every 10 s
API_ACCOUNT_RPS = 10_000  # HTTP APIs, per account and region (burst 5,000)
SSM_STANDARD_TPS = 40  # GetParameters, standard throughput (higher throughput: 10,000)
SSM_REFRESH_SECONDS = 300  # each container re-reads its key sets every 5 minutes
KMS_DECRYPT_RPS = 50_000  # symmetric KMS operations (SecureString decryption)


# ---- part 1: what each request costs -------------------------------------------------------


@dataclass(frozen=True)
class Profile:
    name: str
    requests: int  # HTTP requests (API Gateway requests, Lambda invocations)
    read_units: float
    write_units: float
    index_writes: int  # items written to the listing index
    seconds: float  # in-process time of all its requests
    sdk_seconds: float  # of which inside AWS SDK calls (moto here, the network on Lambda)


def _index_writes(calls: list[Call]) -> int:
    """Puts that carry index keys (the audit events; a sign-in changes no listed user
    attribute, so its updates skip the index, see bench.capacity)."""
    written = 0
    for call in calls:
        if call.operation == "PutItem" and "gsi1pk" in call.params["Item"]:
            written += 1
        elif call.operation == "TransactWriteItems":
            written += sum(
                1 for item in call.params["TransactItems"] if "gsi1pk" in item.get("Put", {})
            )
    return written


class Service:
    """The app in this process on moto, with enrolled users and a controllable clock."""

    def __init__(self, settings: Settings, clock: Clock, client: TestClient) -> None:
        self.settings = settings
        self.clock = clock
        self.client = client
        self.secrets: dict[str, str] = {}

    def enroll(self, count: int, prefix: str) -> list[str]:
        names = [f"{prefix}{index}" for index in range(count)]
        for name in names:
            _, self.secrets[name] = create_enrolled_user(self.settings, name, PASSWORD)
        return names

    def login(self, name: str, password: str = PASSWORD) -> Any:
        return self.client.post("/auth/login", json={"username": name, "password": password})

    def sign_in(self, name: str) -> dict[str, Any]:
        challenge = self.login(name).json()
        code = pyotp.TOTP(self.secrets[name]).at(self.clock.now())
        body = {"mfa_token": challenge["mfa_token"], "code": code}
        tokens: dict[str, Any] = self.client.post("/auth/mfa/verify", json=body).json()
        return tokens

    def measured(self, name: str, requests: int, run: Callable[[], None]) -> Profile:
        timer = SdkTimer()
        with spending(self.settings.table_name) as spent, timed_sdk(timer):
            started = time.perf_counter()
            run()
            seconds = time.perf_counter() - started
        dynamodb = [call for call in spent.calls if call.service == "dynamodb"]
        return Profile(
            name,
            requests,
            spent.cost.read_units,
            spent.cost.write_units,
            _index_writes(dynamodb),
            seconds,
            timer.seconds,
        )


def measure_profiles(service: Service, runs: int) -> dict[str, Profile]:
    """Each request type `runs` times, on fresh TOTP steps; per-request averages."""
    names = service.enroll(runs, "profiled")
    tokens: list[dict[str, Any]] = []

    def sign_ins() -> None:
        for name in names:
            tokens.append(service.sign_in(name))

    def me() -> None:
        for pair in tokens:
            headers = {"Authorization": f"Bearer {pair['access_token']}"}
            service.client.get("/users/me", headers=headers)

    def refreshes() -> None:
        for pair in tokens:
            service.client.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})

    def wrong_passwords() -> None:
        for name in names:
            service.login(name, WRONG)

    def unknown_names() -> None:
        for index in range(runs):
            service.login(f"nobody{index}", WRONG)

    service.clock.next_step()
    measured = [
        service.measured("sign-in (two steps)", 2, sign_ins),
        service.measured("GET /users/me", 1, me),
        service.measured("refresh", 1, refreshes),
        service.measured("wrong password, real account", 1, wrong_passwords),
        service.measured("wrong password, unknown name", 1, unknown_names),
    ]
    return {
        profile.name: Profile(
            profile.name,
            profile.requests,
            profile.read_units / runs,
            profile.write_units / runs,
            round(profile.index_writes / runs),
            profile.seconds / runs,
            profile.sdk_seconds / runs,
        )
        for profile in measured
    }


# ---- part 1: the ceilings ------------------------------------------------------------------


@dataclass(frozen=True)
class Ceiling:
    limit: str
    per_second: float  # of the request type the table is about


def _template_rate() -> int:
    parameters = load_template()["Parameters"]
    return int(parameters["ThrottlingRateLimit"]["Default"])


def ceilings(profile: Profile, audit_index_keys: int) -> list[Ceiling]:
    """What each limit allows of one request type, per second, sustained."""
    found = [
        Ceiling(
            f"API Gateway route throttle (template default {_template_rate()}/s)",
            _template_rate() / profile.requests,
        ),
        Ceiling(
            f"API Gateway account ({API_ACCOUNT_RPS:,} requests/s)",
            API_ACCOUNT_RPS / profile.requests,
        ),
        Ceiling(
            f"Lambda concurrency ({LAMBDA_CONCURRENCY:,}) / duration",
            LAMBDA_CONCURRENCY / profile.seconds,
        ),
    ]
    if profile.write_units:
        found += [
            Ceiling(
                f"DynamoDB table quota ({TABLE_QUOTA_WCU:,} WCU/s)",
                TABLE_QUOTA_WCU / profile.write_units,
            ),
        ]
    if profile.read_units:
        found.append(
            Ceiling(
                f"DynamoDB table quota ({TABLE_QUOTA_RCU:,} RCU/s)",
                TABLE_QUOTA_RCU / profile.read_units,
            )
        )
    if profile.index_writes:
        found.append(
            Ceiling(
                f"audit index: {audit_index_keys} key(s) x {PARTITION_WCU:,} writes/s",
                audit_index_keys * PARTITION_WCU / profile.index_writes,
            )
        )
    return sorted(found, key=lambda ceiling: ceiling.per_second)


# ---- part 2: the simulation ------------------------------------------------------------------


@dataclass
class Writes:
    """Writes per simulated second per partition key, in the design as it is ("after")
    and as it was ("before": every event in one index key, user-less events in one
    table partition)."""

    table: dict[str, dict[int, Counter[str]]] = field(
        default_factory=lambda: {"before": defaultdict(Counter), "after": defaultdict(Counter)}
    )
    index: dict[str, dict[int, Counter[str]]] = field(
        default_factory=lambda: {"before": defaultdict(Counter), "after": defaultdict(Counter)}
    )

    def add(self, second: int, item_pk: str, index_pk: str | None, is_audit: bool) -> None:
        self.table["after"][second][item_pk] += 1
        self.table["before"][second]["AUDIT#-" if item_pk.startswith("AUDIT#-#") else item_pk] += 1
        if index_pk is not None:
            self.index["after"][second][index_pk] += 1
        if is_audit:
            self.index["before"][second]["AUDIT"] += 1  # every event, one key
        elif index_pk is not None:
            self.index["before"][second][index_pk] += 1


def _written(call: Call) -> Iterator[tuple[str, str | None]]:
    """(table partition key, index partition key or None) of each item a call writes."""
    params = call.params
    if call.operation in ("PutItem", "UpdateItem", "DeleteItem"):
        item = params.get("Item") or params["Key"]
        yield item["pk"]["S"], item.get("gsi1pk", {}).get("S")
    elif call.operation == "TransactWriteItems":
        for action in params["TransactItems"]:
            [(_, body)] = action.items()
            item = body.get("Item") or body["Key"]
            yield item["pk"]["S"], item.get("gsi1pk", {}).get("S")


@dataclass(frozen=True)
class Hottest:
    design: str
    where: str
    key: str
    busiest_second: int  # its writes in its busiest simulated second
    share: float  # its share of all writes to the table (or the index) in the run


def hottest(writes: Writes) -> list[Hottest]:
    found = []
    for where, by_design in (("table", writes.table), ("index", writes.index)):
        for design in ("before", "after"):
            total: Counter[str] = Counter()
            for counts in by_design[design].values():
                total.update(counts)
            if not total:
                continue
            key, count = total.most_common(1)[0]
            busiest = max(counts[key] for counts in by_design[design].values())
            found.append(Hottest(design, where, key, busiest, count / sum(total.values())))
    return found


@dataclass(frozen=True)
class Mix:
    sign_ins: int  # legitimate two-step sign-ins per simulated second
    unknown_names: int  # attacker: wrong passwords for names with no account
    one_account: int  # attacker: wrong passwords for one real account
    many_accounts: int  # attacker: wrong passwords spread over real accounts


def simulate(service: Service, mix: Mix, seconds: int) -> tuple[Writes, Counter[int]]:
    users = service.enroll(mix.sign_ins * seconds, "member")
    victims = service.enroll(max(1, mix.many_accounts), "victim")
    writes = Writes()
    statuses: Counter[int] = Counter()
    attempt = 0

    def record(calls: list[Call], second: int) -> None:
        for call in calls:
            if call.service != "dynamodb":
                continue
            for item_pk, index_pk in _written(call):
                writes.add(second, item_pk, index_pk, item_pk.startswith("AUDIT#"))

    for second in range(seconds):
        service.clock.advance(1)
        with recording() as recorder:
            for name in users[second * mix.sign_ins : (second + 1) * mix.sign_ins]:
                statuses[200 if "access_token" in service.sign_in(name) else 0] += 1
            for _ in range(mix.unknown_names):
                attempt += 1
                statuses[service.login(f"sprayed{attempt}", WRONG).status_code] += 1
            for _ in range(mix.one_account):
                statuses[service.login(victims[0], WRONG).status_code] += 1
            for index in range(mix.many_accounts):
                statuses[service.login(victims[index], WRONG).status_code] += 1
        record(recorder.calls, second)
    return writes, statuses


# ---- the whole run ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Results:
    profiles: dict[str, Profile]
    mix: Mix
    seconds: int
    hottest: list[Hottest]
    statuses: Counter[int]


@contextmanager
def running_service(stage: str = STAGE) -> Iterator[Service]:
    """The app in this process on moto, its clock under control, its security log quiet
    (a line per event would bury the report; the events are counted instead)."""
    fake = Clock()
    logging.disable(logging.WARNING)
    try:
        with (
            service_in_moto(stage) as settings,
            patched_clock(fake),
            TestClient(create_app(settings), raise_server_exceptions=True) as client,
        ):
            yield Service(settings, fake, client)
    finally:
        logging.disable(logging.NOTSET)


def measure(quick: bool) -> Results:
    runs, seconds = (3, 2) if quick else (10, 12)
    mix = Mix(sign_ins=5, unknown_names=40, one_account=20, many_accounts=10)
    with running_service() as service:
        profiles = measure_profiles(service, runs)
        writes, statuses = simulate(service, mix, seconds)
    return Results(profiles, mix, seconds, hottest(writes), statuses)


def _rate(value: float) -> str:
    return f"{value:,.0f}"


def ceilings_table(results: Results) -> str:
    sign_in = results.profiles["sign-in (two steps)"]
    me = results.profiles["GET /users/me"]
    rows = []
    before = {c.limit.split(":")[0]: c for c in ceilings(sign_in, 1)}
    after = {c.limit.split(":")[0]: c for c in ceilings(sign_in, AUDIT_SHARDS)}
    reads = {c.limit: c for c in ceilings(me, AUDIT_SHARDS)}
    for name, ceiling in sorted(after.items(), key=lambda item: item[1].per_second):
        label = (
            ceiling.limit
            if not name.startswith("audit index")
            else (
                f"audit index: 1 key before, {AUDIT_SHARDS} after, {PARTITION_WCU:,} writes/s each"
            )
        )
        me_rate = reads.get(ceiling.limit)
        rows.append(
            (
                label,
                _rate(before[name].per_second),
                _rate(ceiling.per_second),
                _rate(me_rate.per_second) if me_rate else "n/a",
            )
        )
    return markdown_table(
        ["Limit", "sign-ins/s, before", "sign-ins/s, after", "`GET /users/me`/s"], rows
    )


def profiles_table(results: Results) -> str:
    return markdown_table(
        ["Request type", "HTTP requests", "RCU", "WCU", "index writes", "in-process time (ms)"],
        (
            (
                profile.name,
                profile.requests,
                f"{profile.read_units:g}",
                f"{profile.write_units:g}",
                profile.index_writes,
                f"{profile.seconds * 1000:.1f}",
            )
            for profile in results.profiles.values()
        ),
    )


def hottest_table(results: Results) -> str:
    return markdown_table(
        ["Design", "Where", "Hottest key", "Its writes in its busiest second", "Its share of all"],
        (
            (hot.design, hot.where, f"`{hot.key}`", hot.busiest_second, f"{hot.share:.0%}")
            for hot in results.hottest
        ),
        text_columns=3,
    )


def _binding(results: Results, shards: int) -> Ceiling:
    return ceilings(results.profiles["sign-in (two steps)"], shards)[0]


def summary(results: Results) -> str:
    ssm_burst = LAMBDA_SCALE_OUT / 10
    sign_in = results.profiles["sign-in (two steps)"]
    unthrottled = [c for c in ceilings(sign_in, AUDIT_SHARDS) if "route throttle" not in c.limit]
    return (
        f"With the template's default route throttle, that throttle binds first "
        f"({_rate(_binding(results, AUDIT_SHARDS).per_second)} sign-ins/s). Raised, the "
        f"next limit before this change was the single audit index key "
        f"({_rate(PARTITION_WCU / max(1, sign_in.index_writes))} sign-ins/s, shared with every "
        f"audited failure); after it, {unthrottled[0].limit} binds at "
        f"{_rate(unthrottled[0].per_second)} sign-ins/s. A new on-demand table starts at "
        f"about {ON_DEMAND_START_WCU:,} WCU/s "
        f"({_rate(ON_DEMAND_START_WCU / sign_in.write_units)} sign-ins/s) and doubles as "
        f"traffic stays; pre-warm it (warm throughput) before a launch. "
        f"Scaling out by {LAMBDA_SCALE_OUT:,} "
        f"containers per 10 s means {ssm_burst:.0f} SSM `GetParameters` calls/s at container "
        f"start, above the standard throughput of {SSM_STANDARD_TPS}/s (each container then "
        f"calls once per {SSM_REFRESH_SECONDS} s; KMS decrypts 2 per call against "
        f"{KMS_DECRYPT_RPS:,}/s)."
    )


def tables(results: Results) -> str:
    mix = results.mix
    answered = ", ".join(f"{status}: {n}" for status, n in sorted(results.statuses.items()))
    return f"""What each request type costs (in-process on moto, averages over the runs):

{profiles_table(results)}

Sustained rate each limit allows ("before": one audit index key; "after": {AUDIT_SHARDS}):

{ceilings_table(results)}

{summary(results)}

Simulation, {results.seconds} simulated seconds of {mix.sign_ins} legitimate sign-ins, and an
attacker's {mix.unknown_names} wrong passwords for unknown names, {mix.one_account} for one
account and {mix.many_accounts} spread over real accounts, per second (answers: {answered}):

{hottest_table(results)}
"""


def section(results: Results) -> str:
    return f"""{SECTION}

How to run: `make bench` (all sections) or `.venv/bin/python -m bench.scale` (this
section and the numbers in docs/capacity.md, which explains the model).

{tables(results)}
The simulation shows where writes land in moto, not DynamoDB's adaptive capacity or
latency under real load. Method: [docs/benchmarks.md](docs/benchmarks.md#scale).
"""


def targets(results: Results) -> list[Target]:
    after = [hot for hot in results.hottest if hot.design == "after" and hot.where == "index"]
    share = after[0].share if after else 0.0
    return [
        Target(
            "Scale",
            "no single index key takes most of the audit writes under an attacker's burst",
            f"hottest index key after: {share:.0%} of the index writes",
            share <= 2 / AUDIT_SHARDS + 0.1,
        )
    ]


def write_docs(results: Results, path: Path = DOCS) -> None:
    text = path.read_text(encoding="utf-8")
    head, _, rest = text.partition(DOCS_BEGIN)
    _, _, tail = rest.partition(DOCS_END)
    path.write_text(f"{head}{DOCS_BEGIN}\n{tables(results)}\n{DOCS_END}{tail}", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = section_parser(__doc__)
    parser.add_argument("--quick", action="store_true", help="few runs (checks it works)")
    args = parser.parse_args(argv)
    results = measure(args.quick)
    publish(args.output, section(results))
    if not args.quick:
        write_docs(results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

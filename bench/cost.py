"""Cost: what a million requests cost on AWS, beside Cognito's price for the same users.

    python -m bench.cost [--quick] [--output PATH]   (this section only; make bench: all)

From measured figures: the capacity units and the time of each request type come from
the in-process app on moto (bench.scale.measure_profiles: every call recorded and sized
as DynamoDB bills it; time split into the app's own and the time inside AWS calls).
Lambda's duration at a memory size is a model: the app's own time is CPU time and
scales with the CPU share Lambda gives (a full vCPU at 1,769 MB, proportionally less
below; this machine's core stands for that vCPU), the time inside AWS calls does not.
Prices are AWS's public list prices for us-east-1 and arm64 (PRICES below).
"""

from __future__ import annotations

from dataclasses import dataclass

from infra.template import function_memory_mb

from .report import markdown_table, publish, section_parser
from .scale import Profile, measure_profiles, running_service

SECTION = "## Cost per million requests"
MEMORY_SIZES = (512, 1024, 1769)
FULL_VCPU_MB = 1769

# us-east-1, arm64 (USD).
LAMBDA_GB_SECOND = 0.0000133334
LAMBDA_PER_MILLION = 0.20
HTTP_API_PER_MILLION = 1.00
DYNAMODB_WRITE_PER_MILLION = 0.625
DYNAMODB_READ_PER_MILLION = 0.125
KMS_PER_10K = 0.03
COGNITO_ESSENTIALS_MAU = 0.015
COGNITO_LITE_MAU = 0.0055
COGNITO_FREE_MAU = 10_000

# The worked example.
EXAMPLE_MAU = 100_000
EXAMPLE_SIGN_INS = 20  # per user per month
EXAMPLE_CALLS = 1_000  # authenticated API calls per user per month (as GET /users/me)
EXAMPLE_REFRESHES_PER_SIGN_IN = 4  # a session refreshes its access token this often

KINDS = {
    "GET /users/me": "GET /users/me",
    "login (two steps)": "sign-in (two steps)",
    "refresh": "refresh",
}


def lambda_seconds(profile: Profile, memory_mb: int) -> float:
    """Billed duration of one instance of the request type (all its invocations)."""
    own = profile.seconds - profile.sdk_seconds
    return own * max(1.0, FULL_VCPU_MB / memory_mb) + profile.sdk_seconds


@dataclass(frozen=True)
class Bill:
    lambda_compute: float
    lambda_requests: float
    api: float
    dynamodb: float

    @property
    def total(self) -> float:
        return self.lambda_compute + self.lambda_requests + self.api + self.dynamodb


def per_million(profile: Profile, memory_mb: int) -> Bill:
    million = 1_000_000
    return Bill(
        lambda_compute=million
        * lambda_seconds(profile, memory_mb)
        * memory_mb
        / 1024
        * LAMBDA_GB_SECOND,
        lambda_requests=profile.requests * LAMBDA_PER_MILLION,
        api=profile.requests * HTTP_API_PER_MILLION,
        dynamodb=profile.write_units * DYNAMODB_WRITE_PER_MILLION
        + profile.read_units * DYNAMODB_READ_PER_MILLION,
    )


@dataclass(frozen=True)
class Results:
    profiles: dict[str, Profile]


def measure(quick: bool) -> Results:
    with running_service("cost") as service:
        return Results(measure_profiles(service, 3 if quick else 10))


def _usd(value: float) -> str:
    return f"${value:,.2f}"


def million_table(results: Results) -> str:
    header = [
        "1M of",
        "Lambda at 512 / 1024 / 1769 MB",
        "Lambda requests",
        "HTTP API",
        "DynamoDB",
        f"Total at {function_memory_mb()} MB",
        "Duration at 512 / 1024 / 1769 MB (ms)",
    ]
    rows = []
    for label, kind in KINDS.items():
        profile = results.profiles[kind]
        bills = [per_million(profile, memory) for memory in MEMORY_SIZES]
        at_template = per_million(profile, function_memory_mb())
        durations = " / ".join(
            f"{lambda_seconds(profile, memory) * 1000:.0f}" for memory in MEMORY_SIZES
        )
        rows.append(
            (
                label,
                " / ".join(_usd(bill.lambda_compute) for bill in bills),
                _usd(at_template.lambda_requests),
                _usd(at_template.api),
                _usd(at_template.dynamodb),
                f"**{_usd(at_template.total)}**",
                durations,
            )
        )
    return markdown_table(header, rows)


@dataclass(frozen=True)
class Example:
    sign_ins: int
    refreshes: int
    calls: int
    auth_cost: float  # sign-ins and refreshes
    calls_cost: float
    cognito_essentials: float
    cognito_lite: float


def example(results: Results) -> Example:
    sign_ins = EXAMPLE_MAU * EXAMPLE_SIGN_INS
    refreshes = sign_ins * EXAMPLE_REFRESHES_PER_SIGN_IN
    calls = EXAMPLE_MAU * EXAMPLE_CALLS

    def cost(kind: str, count: int) -> float:
        return per_million(results.profiles[kind], function_memory_mb()).total * count / 1e6

    billable = max(0, EXAMPLE_MAU - COGNITO_FREE_MAU)
    return Example(
        sign_ins,
        refreshes,
        calls,
        cost("sign-in (two steps)", sign_ins) + cost("refresh", refreshes),
        cost("GET /users/me", calls),
        billable * COGNITO_ESSENTIALS_MAU,
        billable * COGNITO_LITE_MAU,
    )


def example_table(worked: Example) -> str:
    free = f"after {COGNITO_FREE_MAU:,} free"
    rows = [
        (f"this service, logins and refreshes (at {function_memory_mb()} MB)", worked.auth_cost),
        (f"this service, the {worked.calls:,} authenticated calls", worked.calls_cost),
        (
            f"Cognito Essentials (${COGNITO_ESSENTIALS_MAU} per MAU {free})",
            worked.cognito_essentials,
        ),
        (f"Cognito Lite (${COGNITO_LITE_MAU} per MAU {free})", worked.cognito_lite),
    ]
    return markdown_table(["", "per month"], ((label, _usd(value)) for label, value in rows))


def section(results: Results) -> str:
    worked = example(results)
    return f"""{SECTION}

How to run: `make bench` (all sections) or `.venv/bin/python -m bench.cost` (this
section only).

Per million requests of each kind, at AWS list prices (us-east-1, arm64: Lambda
${LAMBDA_GB_SECOND:.10f} per GB-s and ${LAMBDA_PER_MILLION:.2f} per 1M invocations, HTTP API
${HTTP_API_PER_MILLION:.2f} per 1M, DynamoDB on-demand ${DYNAMODB_WRITE_PER_MILLION} per 1M
write and ${DYNAMODB_READ_PER_MILLION} per 1M read request units). A login is two requests
(password, then code). Capacity units are measured (bench/capacity.py); Lambda durations
are a **model**: the app's own time measured here, scaled by the CPU share of each memory
size (a full vCPU at 1,769 MB), plus the time inside AWS calls, unscaled. Method:
[docs/benchmarks.md](docs/benchmarks.md#cost).

{million_table(results)}

SSM and KMS cost per container, not per request: one `GetParameters` at start and every
5 minutes (standard throughput, no charge) decrypting 2 SecureStrings (KMS, ${KMS_PER_10K}
per 10,000 requests): about $0.05 per container kept warm for a month.

**Worked example**: {EXAMPLE_MAU:,} monthly active users, each signing in
{EXAMPLE_SIGN_INS} times a month (every session refreshing {EXAMPLE_REFRESHES_PER_SIGN_IN}
times) and calling the API {EXAMPLE_CALLS:,} times: {worked.sign_ins:,} logins,
{worked.refreshes:,} refreshes and {worked.calls:,} authenticated calls a month.

{example_table(worked)}

Cognito's price covers sign-in and tokens only: an application behind it still pays for
its own API calls, so the fair comparison for authentication is the first row against
Cognito's. Not included on either side: data transfer, CloudWatch Logs (about one JSON
line per request, $0.50 per GB ingested) and the DynamoDB storage of users and audit
events ($0.25 per GB-month).
"""


def main(argv: list[str] | None = None) -> int:
    parser = section_parser(__doc__)
    parser.add_argument("--quick", action="store_true", help="few runs (checks it works)")
    args = parser.parse_args(argv)
    publish(args.output, section(measure(args.quick)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Theft generator for the detection benchmark: kinds as distributions, not recipes.

Each kind fixes what makes it that kind (to whom, in what amount shape) and samples the
rest from the seed: the size of a charge (about 1 to 2,500 in the ledger's currency), the
cadence (several a day to monthly), the number of charges (3 to 300), the start day, the
account and payee. So a detector tuned to one recipe ("30 charges of about 1,667 every 4
days") meets the spread of that kind, not the recipe.

Also kept: the eight fixed recipes of issue 4 (kinds "v1_*"), the generator the current
defaults were tuned on, so a run can show tuned-on and out-of-sample figures side by side.

Everything is drawn from random.Random(seed) over sorted inputs: the same seed and
profile give the same thefts. Money is Decimal with two places.
"""
from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
TOP = Decimal("2500.00")     # the largest single stolen charge


@dataclass(frozen=True)
class Pair:
    """An account's existing payee: how often and at what size the account pays it."""
    account: str
    payee: str
    charges: int
    usual: Decimal        # median charge
    first: dt.date
    last: dt.date

    @property
    def gap_days(self) -> float:
        return max(1.0, (self.last - self.first).days / max(1, self.charges - 1))


@dataclass(frozen=True)
class Profile:
    """What the generator needs to know of a ledger: its accounts, the pairs it already
    has, the payee names in use (a new payee must be new) and the replay window."""
    accounts: tuple[str, ...]          # active accounts, sorted
    pairs: tuple[Pair, ...]            # (account, payee) with a history, sorted
    payees: frozenset[str]
    start: dt.date
    end: dt.date


@dataclass
class Charge:
    theft: str
    kind: str
    day: dt.date
    account: str
    payee: str
    amount: Decimal
    tag: str = ""


@dataclass
class Theft:
    id: str
    kind: str
    params: dict
    charges: list[Charge] = field(default_factory=list)

    @property
    def start(self) -> dt.date:
        return min(c.day for c in self.charges)

    @property
    def accounts(self) -> set[str]:
        return {c.account for c in self.charges}

    @property
    def payees(self) -> set[str]:
        return {c.payee for c in self.charges}

    @property
    def total(self) -> Decimal:
        return sum((c.amount for c in self.charges), Decimal("0.00"))


def money(x: float) -> Decimal:
    return Decimal(repr(float(x))).quantize(CENT, rounding=ROUND_HALF_UP)


def log_uniform(rnd: random.Random, low: float, high: float) -> float:
    return math.exp(rnd.uniform(math.log(low), math.log(high)))


# ---- names -----------------------------------------------------------------------------

_FIRST = ("devlab", "nordwick", "brightpath", "quillon", "tessaro", "vantrell", "corvane",
          "meridyn", "halcyra", "solvent", "parallax", "kestrel", "ombrix", "lumetra",
          "zephra", "arcadis", "velonti", "graymoor", "tindale", "questor", "ironleaf",
          "bluefen", "cobaltix", "rennick", "auralis", "stratik", "fenwold", "myriton")
_SECOND = ("consult", "it services", "design studio", "digital", "solutions", "systems",
           "software", "advisory", "media", "freelance hub", "remote dev", "data labs",
           "web works", "cloud ops", "analytics", "app charge", "office supplies", "training")
_FORMS = ("ltd", "limited", "llc", "inc", "", "", "")


def new_payee(rnd: random.Random, taken: set[str], upper: bool = True) -> str:
    """A payee name the ledger has never seen (checked against every name in use)."""
    while True:
        name = f"{rnd.choice(_FIRST)} {rnd.choice(_SECOND)} {rnd.choice(_FORMS)}".strip()
        if rnd.random() < 0.5:
            name += f" {rnd.randrange(10, 1000)}"
        name = name.upper() if upper else name.title()
        if name not in taken and name.lower() not in taken:
            taken.add(name)
            return name


def name_variants(rnd: random.Random, taken: set[str]) -> list[str]:
    """Ways an export writes one payee (issue 12): case, legal form, processor prefix,
    punctuation, a trailing reference."""
    stem = new_payee(rnd, taken).split(" ")
    stem = " ".join(w for w in stem if not w.isdigit() and w.lower() not in _FORMS)
    title = stem.title()
    return [f"{stem} LTD", f"{title} Limited", f"PAYPAL *{stem}", stem, f"{stem.lower()} ltd.",
            f"{stem} LTD REF {rnd.randrange(1000, 9999)}", f"SQ *{stem}",
            f"{title.replace(' ', '-')} Ltd"]


# ---- the shapes a kind is built from --------------------------------------------------

def days(rnd: random.Random, start: dt.date, n: int, gap: float,
         exact: int = 0) -> list[dt.date]:
    """n charge days from start, on average `gap` days apart (0.25: about four a day).
    exact=j: issue 4's schedule instead, day i at start + gap*i + a random 0..j-1."""
    if exact:
        return [start + dt.timedelta(days=int(gap * i) + rnd.randrange(exact)) for i in range(n)]
    t, out = 0.0, []
    for _ in range(n):
        out.append(start + dt.timedelta(days=int(t)))
        t += gap * rnd.uniform(0.5, 1.5)
    return out


def amounts(rnd: random.Random, n: int, shape: str, base: float, **p) -> list[Decimal]:
    """n charge amounts of a shape, each within 0.01..2,500 (jitter is cut at the top)."""
    return [min(max(a, CENT), TOP) for a in _amounts(rnd, n, shape, base, **p)]


def _amounts(rnd: random.Random, n: int, shape: str, base: float, **p) -> list[Decimal]:
    if shape == "constant":
        return [money(base)] * n
    if shape == "jitter":
        return [money(max(0.01, base * (1 + rnd.uniform(-p["pct"], p["pct"])))) for _ in range(n)]
    if shape == "uniform":
        return [money(rnd.uniform(p["low"], p["high"])) for _ in range(n)]
    if shape == "rounded":
        return [Decimal(p["step"] * rnd.randint(1, p["steps"])).quantize(CENT) for _ in range(n)]
    if shape == "ramp":
        ratio = (p["top"] / base) ** (1 / max(1, n - 1))
        return [money(base * ratio ** i * rnd.uniform(0.97, 1.03)) for i in range(n)]
    if shape == "under_limit":
        limit = p["limit"]
        return [money(limit - rnd.uniform(0.01, 0.05 * limit)) for _ in range(n)]
    raise ValueError(shape)


def gap_choice(rnd: random.Random, low: float, high: float) -> float:
    return log_uniform(rnd, low, high)


# ---- kinds ----------------------------------------------------------------------------
# Each kind: a function (rnd, ctx) -> params; ctx picks accounts, pairs and names.
# params: n, gap, shape + its values, to ("new" | "existing" | "payees" | "accounts"), ...

def _size(rnd, low=1.0, high=2500.0) -> float:
    return log_uniform(rnd, low, high)


KINDS = {
    "advisory": ("a new payee, steady charges of a few hundred to 2,500 (issue 4's case)",
                 lambda r: dict(to="new", n=r.randint(10, 40), gap=gap_choice(r, 2, 10),
                                shape="jitter", base=_size(r, 300), pct=r.uniform(0, .05))),
    "known_payee_above": ("a payee the account already uses, charged above its usual size",
                          lambda r: dict(to="existing", n=r.randint(8, 40),
                                         gap=gap_choice(r, 2, 10), shape="jitter",
                                         factor=r.uniform(2, 8), pct=r.uniform(0, .05))),
    "known_payee_often": ("a payee the account already uses, at its usual size, 3-10x as often",
                          lambda r: dict(to="existing", n=r.randint(20, 120), shape="jitter",
                                         factor=1.0, speedup=r.uniform(3, 10), pct=.1)),
    "tiny": ("hundreds of tiny charges (1-25), up to several a day",
             lambda r: dict(to="new", n=r.randint(60, 300), gap=gap_choice(r, 0.25, 1.5),
                            shape="uniform", low=1, high=r.uniform(5, 25))),
    "below_limit": ("just under an approval limit",
                    lambda r: dict(to="new", n=r.randint(6, 30), gap=gap_choice(r, 2, 14),
                                   shape="under_limit",
                                   limit=r.choice([250, 500, 1000, 1500, 2000, 2500]))),
    "rotation": ("one account rotating over 2-5 new payees",
                 lambda r: dict(to="payees", spread=r.randint(2, 5), n=r.randint(12, 40),
                                gap=gap_choice(r, 2, 7), shape="jitter", base=_size(r, 150, 1500),
                                pct=r.uniform(.05, .2))),
    "across_accounts": ("one new payee charged from 2-8 accounts",
                        lambda r: dict(to="accounts", spread=r.randint(2, 8), n=r.randint(10, 40),
                                       gap=gap_choice(r, 1, 5), shape="jitter",
                                       base=_size(r, 150, 1500), pct=r.uniform(.05, .2))),
    "weekly": ("a new payee every week, near-constant",
               lambda r: dict(to="new", n=r.randint(12, 52), gap=7.0, shape="jitter",
                              base=_size(r, 100), pct=.02)),
    "monthly": ("a new payee once a month, constant",
                lambda r: dict(to="new", n=r.randint(6, 24), gap=30.4, shape="constant",
                               base=_size(r, 300))),
    "round_amounts": ("round amounts (multiples of 50-500)",
                      lambda r: dict(to="new", n=r.randint(8, 30), gap=gap_choice(r, 3, 10),
                                     shape="rounded", step=r.choice([50, 100, 250, 500]),
                                     steps=4)),
    "instalments": ("many instalments of a few hundred to a new payee",
                    lambda r: dict(to="new", n=r.randint(20, 100), gap=gap_choice(r, 1, 7),
                                   shape="jitter", base=r.uniform(100, 600), pct=.1)),
    "daily_small": ("one small charge a day for months",
                    lambda r: dict(to="new", n=r.randint(60, 300), gap=1.0, shape="jitter",
                                   base=r.uniform(10, 150), pct=.2)),
    "jittered": ("amounts that jitter by 15-40%",
                 lambda r: dict(to="new", n=r.randint(10, 40), gap=gap_choice(r, 2, 10),
                                shape="jitter", base=_size(r, 200), pct=r.uniform(.15, .4))),
    "ramping": ("amounts ramping from a few to 800-2,500",
                lambda r: dict(to="new", n=r.randint(10, 40), gap=gap_choice(r, 2, 10),
                               shape="ramp", base=r.uniform(5, 100), top=r.uniform(800, 2500))),
    "test_prelude": ("2-6 tiny test charges, then larger ones to the same payee",
                     lambda r: dict(to="new", prelude=r.randint(2, 6), n=r.randint(8, 30),
                                    gap=gap_choice(r, 2, 7), shape="jitter", base=_size(r, 300),
                                    pct=.05)),
    "refunds": ("refunds interleaved with the charges, a net drain",
                lambda r: dict(to="new", n=r.randint(12, 40), gap=gap_choice(r, 2, 7),
                               shape="jitter", base=_size(r, 200, 2000), pct=.1,
                               refund_rate=r.uniform(.25, .4))),
    "name_variants": ("one new payee whose name varies from charge to charge",
                      lambda r: dict(to="new", variants=True, n=r.randint(10, 40),
                                     gap=gap_choice(r, 2, 10), shape="jitter",
                                     base=_size(r, 200), pct=.05)),
    "many_payees": ("spread over 5-20 new payees, a few charges each",
                    lambda r: dict(to="payees", spread=r.randint(5, 20), shuffle=True,
                                   n=r.randint(15, 60), gap=gap_choice(r, 1, 5),
                                   shape="jitter", base=_size(r, 100, 1500), pct=.15)),
    "burst": ("several charges a day for a few weeks",
              lambda r: dict(to="new", n=r.randint(30, 200), gap=gap_choice(r, 0.15, 0.5),
                             shape="jitter", base=_size(r, 5, 400), pct=.2)),
}

# The eight fixed recipes of issue 4 (benchmarks/detection.py before issue 17): the
# generator the defaults were tuned on.
V1 = {
    "v1_advisory": dict(exact=3, to="new", n=30, gap=4.0, shape="jitter", base=1667, pct=.024),
    "v1_existing_merchant": dict(exact=3, to="busiest", n=30, gap=4.0, shape="jitter", base=1667,
                                 pct=.024),
    "v1_tiny": dict(exact=1, to="new", n=200, gap=0.5, shape="uniform", low=2, high=25),
    "v1_below_limit": dict(exact=4, to="new", n=12, gap=8.0, shape="uniform", low=950, high=999.99),
    "v1_rotation": dict(exact=3, to="payees", spread=3, n=24, gap=5.0, shape="uniform", low=700,
                        high=1000),
    "v1_across_cards": dict(exact=3, to="accounts", spread=5, n=25, gap=3.0, shape="uniform", low=600,
                            high=900),
    "v1_weekly": dict(exact=1, to="new", n=52, gap=7.0, shape="jitter", base=950, pct=.016),
    "v1_round_amounts": dict(exact=3, to="new", n=15, gap=6.0, shape="rounded", step=250, steps=4),
}

ALL_KINDS = tuple(KINDS) + tuple(V1)


def describe(kind: str) -> str:
    return KINDS[kind][0] if kind in KINDS else "issue 4's fixed recipe (tuned-on generator)"


class _Picker:
    """Accounts and pairs for one seed's instances, each used once while any is left."""

    def __init__(self, rnd: random.Random, profile: Profile):
        self.rnd, self.profile = rnd, profile
        self.free = list(profile.accounts)
        rnd.shuffle(self.free)
        self.free_pairs = [p for p in profile.pairs
                           if p.charges >= 6 and Decimal(5) <= p.usual <= Decimal(1000)
                           and (p.last - p.first).days >= 60]
        rnd.shuffle(self.free_pairs)
        self.names = set(profile.payees)

    def account(self) -> str:
        if self.free:
            return self.free.pop()
        return self.rnd.choice(self.profile.accounts)

    def pair(self, busiest: bool = False) -> Pair | None:
        used = {a for a in self.profile.accounts if a not in self.free}
        pool = [p for p in self.free_pairs if p.account not in used] or self.free_pairs
        if not pool:
            return None
        if busiest:      # the account's most used payee, as issue 4's recipe did
            account = pool[0].account
            pair = max((p for p in self.free_pairs if p.account == account),
                       key=lambda p: (p.charges, p.payee))
        else:
            pair = pool[0]
        self.free_pairs.remove(pair)
        if pair.account in self.free:
            self.free.remove(pair.account)
        return pair


def _start(rnd: random.Random, profile: Profile, span_days: float,
           earliest: dt.date | None = None) -> dt.date:
    first = max(profile.start, earliest or profile.start)
    last = max(first, profile.end - dt.timedelta(days=int(min(span_days, 400)) + 14))
    return first + dt.timedelta(days=rnd.randrange((last - first).days + 1))


def _instance(rnd: random.Random, pick: _Picker, profile: Profile, theft_id: str, kind: str,
              p: dict) -> Theft:
    theft = Theft(theft_id, kind, dict(p))
    n = p["n"]
    base = p.get("base", 0.0)
    if p["to"] in ("existing", "busiest"):
        pair = pick.pair(busiest=p["to"] == "busiest")
        if pair is None:
            return theft          # the ledger has no usable pair: no instance
        accounts, payees = [pair.account], [pair.payee]
        gap = pair.gap_days / p["speedup"] if "speedup" in p else p["gap"]
        if "factor" in p:
            base = min(max(float(pair.usual) * p["factor"], float(pair.usual) + 1), 2500.0)
        theft.params.update(usual=str(pair.usual), usual_gap_days=round(pair.gap_days, 1))
        start = _start(rnd, profile, n * gap,
                       earliest=pair.first + (pair.last - pair.first) / 2)
    else:
        gap = p["gap"]
        start = _start(rnd, profile, n * gap)
        spread = p.get("spread", 1)
        accounts = ([pick.account() for _ in range(spread)] if p["to"] == "accounts"
                    else [pick.account()])
        payees = ([new_payee(rnd, pick.names) for _ in range(spread)] if p["to"] == "payees"
                  else name_variants(rnd, pick.names) if p.get("variants")
                  else [new_payee(rnd, pick.names)])
    theft.params["gap"] = round(gap, 2)
    shape_args = {k: p[k] for k in ("pct", "low", "high", "step", "steps", "top", "limit")
                  if k in p}
    charge_days = days(rnd, start, n, gap, p.get("exact", 0))
    values = amounts(rnd, n, p["shape"], base, **shape_args)
    if p.get("prelude"):
        tests = [money(rnd.uniform(0.01, 2.00)) for _ in range(p["prelude"])]
        prelude_days = [start + dt.timedelta(days=rnd.randrange(3)) for _ in tests]
        charge_days = sorted(prelude_days) + [d + dt.timedelta(days=3) for d in charge_days]
        values = tests + values
    rows = []
    for i, (day, amount) in enumerate(zip(charge_days, values)):
        account = accounts[i % len(accounts)]
        if p.get("variants") or p.get("shuffle"):
            payee = rnd.choice(payees)
        else:
            payee = payees[i % len(payees)]
        rows.append((day, account, payee, amount))
        if p.get("refund_rate") and rnd.random() < p["refund_rate"]:
            back = -money(float(amount) * rnd.uniform(0.2, 0.8))
            rows.append((day + dt.timedelta(days=rnd.randrange(4)), account, payee, back))
    for day, account, payee, amount in sorted(rows, key=lambda r: r[0]):
        if day <= profile.end:     # a theft still running at the ledger's end is cut there
            theft.charges.append(Charge(theft_id, kind, day, account, payee, amount))
    return theft


def generate(profile: Profile, seed: int, kinds=ALL_KINDS, instances: int = 1) -> list[Theft]:
    """`instances` thefts of every kind, parameters drawn from the seed. Charges carry a
    unique tag (theft-<seed>-<n>) for the ledger's reference column."""
    rnd = random.Random(f"thefts-{seed}")
    pick = _Picker(rnd, profile)
    out = []
    for kind in kinds:
        for i in range(instances):
            params = dict(V1[kind]) if kind in V1 else KINDS[kind][1](rnd)
            theft = _instance(rnd, pick, profile, f"{kind}-{seed}-{i}", kind, params)
            if theft.charges:
                out.append(theft)
    n = 0
    for theft in out:
        for charge in theft.charges:
            n += 1
            charge.tag = f"theft-{seed}-{n}"
    return out

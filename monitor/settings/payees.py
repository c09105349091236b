"""[payees] in config.toml: how payee names are made into payee keys.

    [payees]
    # Payment processors and wallets that write their own name before the merchant's
    # ("PAYPAL *ACME HOSTING"): the merchant after the prefix is the payee. Matched at the
    # start of the name, ignoring case; a space may be missing or doubled, and "*" may
    # have spaces around it. An empty list strips none.
    processor_prefixes = ["PAYPAL *", "SQ *", "STRIPE*", ...]

The key itself is computed in monitor/ledger/payees.py. A change of this list re-keys
every payee name on the next scan or ingest (and records it in the audit log), because
alerts, the registry and the incremental facts group by the key.
"""
from __future__ import annotations

from dataclasses import dataclass

from monitor.settings.validator import Validator, strings, subtable

# The processors and wallets most seen on card and bank statements.
# (PayPal, Square, Stripe, Shopify, Paddle, FastSpring, 2Checkout, Gumroad, Toast, SumUp,
# iZettle/Zettle, Lemon Squeezy.) A merchant's own name that looks like one (a store
# called "SP*CE") is the price of a prefix: keep the list to real processors.
DEFAULT_PROCESSOR_PREFIXES = (
    "PAYPAL *", "PP*", "SQ *", "STRIPE*", "SP *", "PADDLE.NET*", "FS *", "2CO.COM*",
    "GUMROAD*", "TST*", "SUMUP *", "IZ *", "ZTL*", "LEMSQZY*",
)
MAX_PREFIXES = 500


@dataclass(frozen=True)
class PayeeSettings:
    processor_prefixes: tuple[str, ...] = DEFAULT_PROCESSOR_PREFIXES


def payee_settings(v: Validator, data: dict) -> PayeeSettings:
    p = "payees."
    table = subtable(v, data, "payees")
    v.unknown(table, ("processor_prefixes",), p)
    if "processor_prefixes" not in table:
        return PayeeSettings()
    prefixes = strings(v, table, "processor_prefixes", p)
    if len(prefixes) > MAX_PREFIXES:
        raise v.error(p + "processor_prefixes", f"holds {len(prefixes)} prefixes",
                      f"keep at most {MAX_PREFIXES}")
    for prefix in prefixes:
        if len(prefix.strip()) < 2 or len(prefix) > 60 or not prefix.isprintable():
            raise v.error(p + "processor_prefixes", f"holds {prefix!r}, which is not a prefix",
                          "write 2 to 60 printable characters, like \"PAYPAL *\"")
    return PayeeSettings(processor_prefixes=prefixes)

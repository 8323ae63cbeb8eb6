"""Skills declared sensitive, for the payload encryption tests: they prove they got their arguments in clear by
returning digests of them, and fail on demand with errors that quote them."""

from __future__ import annotations

import hashlib
from typing import Any

import redis

from organism.errors import PermanentError, TransientError
from organism.skill import skill
from tests.support.faulty import SIDE_EFFECTS


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@skill(organ="perception", name="test.pay", effect="idempotent", sensitive=True,
       retry={"max_retries": 2, "backoff_base_s": 0.2, "jitter": 0.0})
def pay(account: str, amount: int, gate: str = "", flaky: str = "", echo: bool = False) -> dict[str, Any]:
    """Pay ``amount`` from ``account``: its digest, or the account itself with ``echo``. While the Redis key
    ``gate`` exists it fails for good, and the first call with ``flaky`` (a Redis key) fails once transiently;
    both errors quote the account."""
    side_effects = redis.Redis.from_url(SIDE_EFFECTS)
    if gate and side_effects.exists(gate):
        raise PermanentError(f"payments from {account} are closed")
    if flaky and side_effects.incr(flaky) == 1:
        raise TransientError(f"the bank did not answer for {account}")
    return {"account": account} if echo else {"account_sha256": digest(account), "amount": amount}


@skill(organ="perception", name="test.countersign", effect="idempotent", sensitive=True)
def countersign(receipt: dict[str, Any], signer: str) -> dict[str, Any]:
    """Countersign a payment's receipt (the chain's previous result) as ``signer``: the amount and the signer's digest
    (the receipt itself is an argument of a sensitive skill now, so a result that echoed it would show ***)."""
    return {"amount": receipt["amount"], "signer_sha256": digest(signer)}

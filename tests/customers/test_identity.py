"""Signed customer tokens: what proves a customer, and every way a token proves nothing."""

from __future__ import annotations

import pytest

from bot.customers.identity import Identity, TokenProblem, check_customer_token, sign_customer_token

SECRET = "shop-secret-0123456789abcdef0123456789"
NOW = 1_800_000_000


def test_a_signed_token_proves_its_customer_until_it_expires() -> None:
    token = sign_customer_token(SECRET, "cust-4711", NOW + 60)
    assert check_customer_token(token, SECRET, NOW).identity == Identity("shop", "cust-4711")
    assert check_customer_token(token, SECRET, NOW + 60).problem is TokenProblem.EXPIRED


def test_the_documented_recipe_makes_a_valid_token() -> None:
    import hashlib
    import hmac

    payload = f"anna@example.com.{NOW + 3600}"  # docs/customers.md, the Python recipe
    signature = hmac.new(SECRET.encode(), payload.encode(), hashlib.sha256).hexdigest()
    check = check_customer_token(f"{payload}.{signature}", SECRET, NOW)
    assert check.customer_id == "anna@example.com"


@pytest.mark.parametrize(
    ("token", "problem"),
    [
        pytest.param(
            sign_customer_token("another-secret", "cust-4711", NOW + 60), TokenProblem.BAD_SIGNATURE, id="forged"
        ),
        pytest.param(
            sign_customer_token(SECRET, "cust-4711", NOW + 60).replace("cust-4711", "cust-4712"),
            TokenProblem.BAD_SIGNATURE,
            id="other-customer",
        ),
        pytest.param(
            sign_customer_token(SECRET, "cust-4711", NOW + 60).replace(str(NOW + 60), str(NOW + 10**6)),
            TokenProblem.BAD_SIGNATURE,
            id="longer-expiry",
        ),
        pytest.param(sign_customer_token(SECRET, "cust-4711", NOW - 1), TokenProblem.EXPIRED, id="expired"),
        pytest.param("cust-4711", TokenProblem.MALFORMED, id="no-signature"),
        pytest.param("cust-4711.soon." + "0" * 64, TokenProblem.MALFORMED, id="expiry-not-a-number"),
        pytest.param("cust 4711.1900000000." + "0" * 64, TokenProblem.MALFORMED, id="space-in-id"),
        pytest.param("cust-4711.1900000000.xyz", TokenProblem.MALFORMED, id="signature-not-hex"),
        pytest.param("x" * 600, TokenProblem.MALFORMED, id="too-long"),
        pytest.param(4711, TokenProblem.MALFORMED, id="not-text"),
    ],
)
def test_a_bad_token_proves_nothing(token: object, problem: TokenProblem) -> None:
    check = check_customer_token(token, SECRET, NOW)
    assert check.problem is problem and check.identity is None


def test_without_a_secret_no_token_is_accepted() -> None:
    token = sign_customer_token(SECRET, "cust-4711", NOW + 60)
    assert check_customer_token(token, None, NOW).problem is TokenProblem.NO_SECRET
    assert check_customer_token(token, "", NOW).problem is TokenProblem.NO_SECRET


def test_signing_refuses_what_a_token_cannot_carry() -> None:
    with pytest.raises(ValueError, match="cannot go in a token"):
        sign_customer_token(SECRET, "anna keller", NOW)
    with pytest.raises(ValueError, match="SUPPORTBOT_CUSTOMER_TOKEN_SECRET"):
        sign_customer_token("", "cust-4711", NOW)

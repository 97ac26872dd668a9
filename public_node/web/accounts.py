"""Accounts on the web database: Argon2id passwords checked against a shipped list of common ones,
server-side sessions (rotated at login, idle and absolute expiry), failed-login slow-down per
(account, address), TOTP second factor with one-use steps and hashed recovery codes, admin-issued
one-time reset tokens, API tokens stored as hashes, deletion and retention (docs/adr/0012).

Pure data layer: every function takes the caller's session on the web database and the time; the
caller commits, together with the audit entry that describes the change."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from keys.keyfile import insecure_test_kdf_allowed
from public_node.web.authmodels import (
    Account,
    ApiToken,
    LoginThrottle,
    RecoveryCode,
    ResetToken,
    SecuritySetting,
    WebSession,
)
from public_node.web.labels import N_

ROLE_USER = "user"
ROLE_SYSADMIN = "sysadmin"  # manages people's accounts and API tokens
ROLE_SECADMIN = "secadmin"  # manages the security settings
ROLE_AUDITOR = "auditor"  # reads the logs and alarms, nothing else
ADMIN_ROLES = (ROLE_SYSADMIN, ROLE_SECADMIN, ROLE_AUDITOR)
ROLES = (ROLE_USER, *ADMIN_ROLES)

USERNAME = re.compile(r"[a-z][a-z0-9_]{2,31}")
MIN_PASSWORD = 12
MAX_PASSWORD = 256
STAGE_TOTP = "totp"
STAGE_FULL = "full"
TOTP_INTERVAL = 30
RECOVERY_CODES = 10

# the security administrator's settings (public_node.web.admin_pages), with their defaults
SETTINGS: dict[str, int] = {
    "login_free_failures": 3,  # failures of one (account, address) before delays start
    "login_delay_base": 2,  # seconds of the first delay; doubles with every further failure
    "login_delay_cap": 900,  # the longest delay: never a permanent lockout
    "session_idle": 1800,  # seconds without a request before a session ends
    "session_absolute": 12 * 3600,  # seconds after login when a session ends whatever happens
    "signup_per_hour": 5,  # accounts one address may create per hour
    "signup_difficulty": 16,  # leading zero bits the sign-up challenge asks for
    "token_per_minute": 600,  # API calls per token per minute
    "reset_ttl": 86400,  # seconds a reset token stays valid
}
TOKEN_SCOPES = ("search", "subjects", "lists", "gov", "documents", "freshness", "reports")


class AccountProblem(Exception):
    """A request about an account that is refused: ``message`` is an English message id."""

    def __init__(self, message: str, code: str = "bad-request") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


@cache
def _hasher() -> PasswordHasher:
    if insecure_test_kdf_allowed():  # the test suites only: Argon2id still, at a cost tests can afford
        return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    return PasswordHasher()  # Argon2id, RFC 9106 low-memory profile (t=3, m=64 MiB, p=4)


def hash_secret(password: str) -> str:
    return _hasher().hash(password)


def check_secret(stored: str, password: str) -> bool:
    try:
        return _hasher().verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


_DUMMY: list[str] = []


def burn_time(password: str) -> None:
    """Spend a password check's time on an unknown account, so that timing does not tell names apart."""
    if not _DUMMY:
        _DUMMY.append(hash_secret(secrets.token_hex(16)))
    check_secret(_DUMMY[0], password)


@cache
def common_passwords() -> frozenset[str]:
    """The shipped list of common passwords (``common-passwords.txt``), lower-cased."""
    text = (Path(__file__).resolve().parent / "common-passwords.txt").read_text("utf-8")
    return frozenset(w.strip().lower() for w in text.splitlines() if w.strip() and not w.startswith("#"))


def password_problem(password: str, username: str) -> str | None:
    """Why a new password is refused (a message id), or None."""
    if len(password) < MIN_PASSWORD:
        return N_("The password must have at least 12 characters.")
    if len(password) > MAX_PASSWORD:
        return N_("The password is too long.")
    lowered = password.lower()
    if lowered in common_passwords() or len(set(password)) <= 2:
        return N_("This password is too common: choose another.")
    if username and username.lower() in lowered:
        return N_("The password must not contain the account name.")
    return None


def username_problem(username: str) -> str | None:
    if not USERNAME.fullmatch(username):
        return N_("The account name must be 3 to 32 lowercase letters, digits or underscores, starting with a letter.")
    return None


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


# -- settings ------------------------------------------------------------------------------------


def settings(s: Session) -> dict[str, int]:
    """The security settings: the defaults, overridden by what the security administrator saved."""
    out = dict(SETTINGS)
    for row in s.scalars(select(SecuritySetting)):
        if row.key in out and row.value.isdigit():
            out[row.key] = int(row.value)
    return out


def set_setting(s: Session, key: str, value: int) -> None:
    if key not in SETTINGS:
        raise AccountProblem(N_("There is no such setting."))
    s.merge(SecuritySetting(key=key, value=str(value)))


# The two list settings the security administrator manages besides the numbers (docs/adr/0012): the
# scopes institution tokens may hold, and the proxies whose X-Forwarded-For is believed. Stored as
# space-separated text in ``security_setting``; no row means the default (every scope; node.toml's
# ``[web] trusted_proxies``). Once saved, the web database is authoritative.
ALLOWED_SCOPES_KEY = "token_scopes"
TRUSTED_PROXIES_KEY = "trusted_proxies"
MAX_PROXIES = 64
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def allowed_scopes(s: Session) -> tuple[str, ...]:
    """The scopes the security administrator allows on institution tokens (all of them by default)."""
    row = s.get(SecuritySetting, ALLOWED_SCOPES_KEY)
    if row is None:
        return TOKEN_SCOPES
    chosen = set(row.value.split())
    return tuple(x for x in TOKEN_SCOPES if x in chosen)


def set_allowed_scopes(s: Session, scopes: list[str]) -> tuple[str, ...]:
    """Save the allowed scopes (a subset of ``TOKEN_SCOPES``, possibly empty); returns them in order."""
    if any(x not in TOKEN_SCOPES for x in scopes):
        raise AccountProblem(N_("Choose scopes from the list."))
    chosen = tuple(x for x in TOKEN_SCOPES if x in set(scopes))
    s.merge(SecuritySetting(key=ALLOWED_SCOPES_KEY, value=" ".join(chosen)))
    return chosen


def parse_networks(text: str) -> tuple[Network, ...]:
    """Addresses or networks separated by spaces, commas or lines; AccountProblem naming the bad one."""
    items = [x for x in re.split(r"[\s,]+", text) if x]
    if len(items) > MAX_PROXIES:
        raise AccountProblem(N_("At most 64 trusted proxies."))
    out: list[Network] = []
    for item in items:
        try:
            net = ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise AccountProblem(
                N_("Each trusted proxy must be an address or a network, such as 10.0.0.5 or 10.0.0.0/24.")
            ) from None
        if net not in out:
            out.append(net)
    return tuple(out)


def trusted_proxies(s: Session) -> tuple[Network, ...] | None:
    """The trusted proxies saved by the security administrator, or None when never saved (node.toml's apply)."""
    row = s.get(SecuritySetting, TRUSTED_PROXIES_KEY)
    if row is None:
        return None
    try:
        return parse_networks(row.value)
    except AccountProblem:
        return ()  # a damaged row believes no one: counting the proxy itself is the safe failure


def set_trusted_proxies(s: Session, networks: tuple[Network, ...]) -> None:
    s.merge(SecuritySetting(key=TRUSTED_PROXIES_KEY, value=" ".join(str(n) for n in networks)))


# -- accounts ------------------------------------------------------------------------------------


def find_account(s: Session, username: str) -> Account | None:
    return s.scalars(select(Account).where(Account.username == username)).first()


def create_account(
    s: Session, username: str, password: str, *, role: str, now: datetime, contact: str | None = None
) -> Account:
    """A new account; :class:`AccountProblem` for a bad name, a weak password or a taken name."""
    if role not in ROLES:
        raise AccountProblem(N_("There is no such role."))
    problem = username_problem(username) or password_problem(password, username)
    if problem:
        raise AccountProblem(problem)
    if find_account(s, username) is not None:
        raise AccountProblem(N_("This account name is taken."), "taken")
    account = Account(
        username=username, role=role, password_hash=hash_secret(password), contact=contact or None,
        disabled=False, must_change_password=False, totp_secret=None, totp_last_step=0, created_at=now,
    )  # fmt: skip
    s.add(account)
    s.flush()
    return account


def set_password(s: Session, account: Account, password: str) -> None:
    problem = password_problem(password, account.username)
    if problem:
        raise AccountProblem(problem)
    account.password_hash = hash_secret(password)
    account.must_change_password = False
    end_sessions(s, account.id)


def delete_account(s: Session, account: Account) -> int:
    """Delete a person's account and its data (sessions, codes, tokens); return its id, which the audit
    log keeps (it names accounts by id, never by their personal data)."""
    account_id = account.id
    s.execute(delete(WebSession).where(WebSession.account_id == account_id))
    s.execute(delete(RecoveryCode).where(RecoveryCode.account_id == account_id))
    s.execute(delete(ResetToken).where(ResetToken.account_id == account_id))
    s.delete(account)
    s.flush()
    return account_id


@dataclass(frozen=True)
class Purged:
    contacts: int
    sessions: int
    throttles: int


def purge(s: Session, now: datetime, *, contact_retention: timedelta) -> Purged:
    """Retention: contact details of accounts unused for ``contact_retention`` are erased; expired
    sessions and stale throttles go. The web audit log is never purged here (kept ≥ 180 days)."""
    conf = settings(s)
    cutoff = now - contact_retention
    contacts = _count(
        s.execute(
            update(Account)
            .where(Account.contact.is_not(None))
            .where(
                (Account.last_login_at < cutoff) | ((Account.last_login_at.is_(None)) & (Account.created_at < cutoff))
            )
            .values(contact=None)
        )
    )
    sessions = _count(
        s.execute(
            delete(WebSession).where(
                (WebSession.last_seen_at < now - timedelta(seconds=conf["session_idle"]))
                | (WebSession.created_at < now - timedelta(seconds=conf["session_absolute"]))
            )
        )
    )
    throttles = _count(
        s.execute(
            delete(LoginThrottle).where(LoginThrottle.updated_at < now - timedelta(seconds=conf["login_delay_cap"] * 2))
        )
    )
    return Purged(contacts, sessions, throttles)


def _count(result: Any) -> int:
    return int(result.rowcount or 0)


# -- sessions ------------------------------------------------------------------------------------


def start_session(s: Session, account: Account, *, stage: str, now: datetime, address: str) -> str:
    """A new session for ``account``; returns the cookie's token (only its SHA-256 is stored)."""
    token = secrets.token_urlsafe(32)
    s.add(
        WebSession(
            token_hash=digest(token), account_id=account.id, stage=stage, csrf=secrets.token_urlsafe(32),
            created_at=now, last_seen_at=now, address=address[:64],
        )
    )  # fmt: skip
    s.flush()
    return token


def load_session(s: Session, token: str | None, now: datetime) -> tuple[WebSession, Account] | None:
    """The live session of a cookie token, touched; None (and an expired one deleted) otherwise."""
    if not token or len(token) > 128:
        return None
    row = s.get(WebSession, digest(token))
    if row is None:
        return None
    conf = settings(s)
    idle = timedelta(seconds=conf["session_idle"])
    absolute = timedelta(seconds=conf["session_absolute"])
    account = s.get(Account, row.account_id)
    if account is None or account.disabled or now - row.last_seen_at > idle or now - row.created_at > absolute:
        s.delete(row)
        s.flush()
        return None
    row.last_seen_at = now
    s.flush()
    return row, account


def end_session(s: Session, token: str | None) -> None:
    if token and len(token) <= 128:
        s.execute(delete(WebSession).where(WebSession.token_hash == digest(token)))


def end_sessions(s: Session, account_id: int) -> None:
    s.execute(delete(WebSession).where(WebSession.account_id == account_id))


# -- failed logins -------------------------------------------------------------------------------


def _throttle_key(username: str, address: str) -> str:
    return digest(f"{username[:64]}\0{address}")


def throttle_wait(s: Session, username: str, address: str, now: datetime) -> int:
    """Seconds this (account, address) pair must still wait before a login is tried (0: none)."""
    row = s.get(LoginThrottle, _throttle_key(username, address))
    if row is None or row.next_at <= now:
        return 0
    return max(1, int((row.next_at - now).total_seconds() + 0.999))


def throttle_failure(s: Session, username: str, address: str, now: datetime) -> int:
    """Count a failure of the pair; return the delay it now waits (grows, capped: never for good)."""
    conf = settings(s)
    key = _throttle_key(username, address)
    row = s.get(LoginThrottle, key)
    if row is None:
        row = LoginThrottle(key=key, failures=0, next_at=now, updated_at=now)
        s.add(row)
    row.failures += 1
    over = row.failures - conf["login_free_failures"]
    delay = 0 if over < 1 else min(conf["login_delay_base"] * 2 ** min(over - 1, 20), conf["login_delay_cap"])
    row.next_at = now + timedelta(seconds=delay)
    row.updated_at = now
    s.flush()
    return delay


def throttle_clear(s: Session, username: str, address: str) -> None:
    s.execute(delete(LoginThrottle).where(LoginThrottle.key == _throttle_key(username, address)))


# -- second factor -------------------------------------------------------------------------------


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(secret: str, username: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name="credgap")


def totp_step(secret: str, code: str, now: datetime, after: int) -> int | None:
    """The time step ``code`` is valid for (this one or a neighbour, for clock drift), provided it is
    later than ``after`` (the last step used: a code counts once); None otherwise."""
    if not (code.isascii() and code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret, interval=TOTP_INTERVAL)
    current = int(now.timestamp()) // TOTP_INTERVAL
    for step in (current - 1, current, current + 1):
        if step > after and hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def new_recovery_codes(s: Session, account: Account) -> list[str]:
    """Replace an administrator's recovery codes; return the new ones (shown once, stored hashed)."""
    s.execute(delete(RecoveryCode).where(RecoveryCode.account_id == account.id))
    codes = ["-".join(secrets.token_hex(3) for _ in range(3)) for _ in range(RECOVERY_CODES)]
    for code in codes:
        s.add(RecoveryCode(account_id=account.id, code_hash=hash_secret(code)))
    s.flush()
    return codes


def use_recovery_code(s: Session, account: Account, code: str, now: datetime) -> bool:
    code = code.strip().lower()
    if not re.fullmatch(r"[0-9a-f]{6}-[0-9a-f]{6}-[0-9a-f]{6}", code):
        return False
    for row in s.scalars(
        select(RecoveryCode).where(RecoveryCode.account_id == account.id, RecoveryCode.used_at.is_(None))
    ):
        if check_secret(row.code_hash, code):
            row.used_at = now
            s.flush()
            return True
    return False


# -- reset tokens ---------------------------------------------------------------------------------


def issue_reset(s: Session, account: Account, now: datetime) -> str:
    """A one-time password-reset token for a person's account (given to them by the system administrator)."""
    if account.role != ROLE_USER:
        raise AccountProblem(
            N_("Administrators are reset only on the host (public-node admin reset USERNAME)."), "forbidden"
        )
    token = secrets.token_urlsafe(24)
    ttl = timedelta(seconds=settings(s)["reset_ttl"])
    s.add(ResetToken(token_hash=digest(token), account_id=account.id, expires_at=now + ttl, used_at=None))
    s.flush()
    return token


def use_reset(s: Session, token: str, password: str, now: datetime) -> Account:
    row = s.get(ResetToken, digest(token)) if 0 < len(token) <= 128 else None
    if row is None or row.used_at is not None or row.expires_at <= now:
        raise AccountProblem(N_("This reset link is not valid or has been used."), "bad-reset-token")
    account = s.get(Account, row.account_id)
    if account is None or account.disabled:
        raise AccountProblem(N_("This reset link is not valid or has been used."), "bad-reset-token")
    set_password(s, account, password)
    row.used_at = now
    return account


# -- API tokens ----------------------------------------------------------------------------------


def issue_token(s: Session, institution: str, scopes: list[str], now: datetime) -> tuple[ApiToken, str]:
    """A new API token; the secret is returned once and only its SHA-256 is stored."""
    bad = [x for x in scopes if x not in TOKEN_SCOPES]
    if bad or not scopes:
        raise AccountProblem(N_("Choose at least one scope from the list."))
    if any(x not in allowed_scopes(s) for x in scopes):
        raise AccountProblem(N_("The security administrator does not allow this scope."), "scope-not-allowed")
    name = institution.strip()
    if not 1 <= len(name) <= 128 or any(ord(c) < 0x20 for c in name):
        raise AccountProblem(N_("Give the institution's name (up to 128 characters)."))
    secret = "cgt_" + secrets.token_urlsafe(32)
    row = ApiToken(
        token_hash=digest(secret), institution=name, scopes=" ".join(sorted(set(scopes))), created_at=now,
        revoked_at=None,
    )  # fmt: skip
    s.add(row)
    s.flush()
    return row, secret


def find_token(s: Session, secret: str) -> ApiToken | None:
    if not secret.startswith("cgt_") or len(secret) > 128:
        return None
    return s.scalars(select(ApiToken).where(ApiToken.token_hash == digest(secret))).first()


def revoke_token(s: Session, token_id: int, now: datetime) -> ApiToken:
    row = s.get(ApiToken, token_id)
    if row is None:
        raise AccountProblem(N_("There is no such token."), "not-found")
    if row.revoked_at is None:
        row.revoked_at = now
    return row

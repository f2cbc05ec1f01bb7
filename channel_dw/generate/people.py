"""Who the customers are: a deterministic population derived from (seed, customer index).

Nothing per customer is stored except a few compact byte arrays (current region, tier, status,
channel habits), index pools of the users of each channel, and small dicts for the rare customers
whose number or e-mail changed. Every identifier (msisdn, member id, app uid, cookie ids, store
accounts, e-mail) is recomputed from the index by a cheap hash or a permutation, so a million
customers take a few tens of megabytes and any attribute costs a microsecond.
"""

from __future__ import annotations

import hashlib
import logging
import random
from array import array
from datetime import date, timedelta

log = logging.getLogger(__name__)

M64 = (1 << 64) - 1

REGIONS: tuple[str, ...] = ("TY", "DT", "YQ", "CZ", "JC", "SZ", "JZ", "YC", "XZ", "LF", "LL")
REGION_WEIGHTS: tuple[int, ...] = (24, 9, 4, 9, 6, 5, 9, 11, 7, 10, 6)  # TY (Taiyuan) biggest
AREA_CODES: dict[str, str] = {
    "TY": "0351",
    "DT": "0352",
    "YQ": "0353",
    "JZ": "0354",
    "CZ": "0355",
    "JC": "0356",
    "LF": "0357",
    "LL": "0358",
    "YC": "0359",
    "XZ": "0350",
    "SZ": "0349",
}
HALLS_PER_REGION: tuple[int, ...] = (30, 12, 6, 12, 9, 7, 11, 14, 9, 13, 9)
STAFF_PER_HALL = 8

TIERS: tuple[str, ...] = ("DIAMOND", "GOLD", "SILVER", "STANDARD")
TIER_WEIGHTS: tuple[int, ...] = (2, 8, 30, 60)
STATUSES: tuple[str, ...] = ("ACTIVE", "SUSPENDED", "CLOSED")
ACTIVE, SUSPENDED, CLOSED = 0, 1, 2

# channel habits and attributes, one bit each in Population.flags
APP_USER = 1
WEB_USER = 2
SMS_USER = 4
STORE_BUYER = 8
HAS_MEMBER = 16
HAS_EMAIL = 32
LATE_BIND = 64  # an app uid that is first used without a phone number
MIXED_CASE_EMAIL = 128

MOBILE_PREFIXES: tuple[str, ...] = (
    "134", "135", "136", "137", "138", "139", "147", "150", "151", "152", "157", "158",
    "159", "172", "178", "182", "183", "184", "187", "188", "195", "197", "198",
)  # fmt: skip

SLOT_CHANGED = 50_000_000  # numbers handed out on an msisdn change (one per customer at most)
SLOT_STRANGER = 90_000_000  # numbers of people who are not customers
MAX_CUSTOMERS = SLOT_STRANGER - SLOT_CHANGED  # each customer may get one new number

NEW_CUSTOMERS_PER_DAY = 0.0008  # share of the population opened on each day of the window
ACTIVITY_SKEW = 1.6  # >1: customers with a low index are the heavy users

_SURNAMES = (
    "wang", "li", "zhang", "liu", "chen", "yang", "zhao", "huang", "zhou", "wu", "xu", "sun",
    "guo", "ma", "hu", "zhu", "gao", "lin", "he", "han", "wei", "yan", "qiao", "shi",
)  # fmt: skip
_GIVEN = (
    "wei", "fang", "na", "min", "jing", "li", "qiang", "lei", "jun", "yang", "yong", "yan",
    "jie", "tao", "ming", "chao", "xia", "ping", "gang", "hui", "xin", "yu", "hao", "rui",
)  # fmt: skip
_MAIL_DOMAINS = ("163.com", "qq.com", "126.com", "sina.com", "139.com", "gmail.com", "foxmail.com")
_NICKS = (
    "晴天小熊", "山西老陈", "汾河边的风", "小米粒", "爱吃面的猫", "太原小王", "云中漫步",
    "平遥古城", "追风少年", "晋味人生", "快乐每一天", "五台山下", "柠檬不酸", "大同小馒头",
)  # fmt: skip


def mix64(x: int) -> int:
    """splitmix64: a fast, well-spread 64-bit hash of an integer."""
    x = (x + 0x9E3779B97F4A7C15) & M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M64
    return x ^ (x >> 31)


def derive_seed(seed: int, *parts: object) -> int:
    """A 64-bit seed for one purpose (a source, a day ...), stable across runs and platforms."""
    text = "|".join([str(seed), *map(str, parts)])
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def weight_table(weights: tuple[int, ...] | list[int], size: int = 1024) -> bytes:
    """A lookup table: ``table[r]`` for ``r`` uniform in ``range(size)`` picks index i ~ weights."""
    total = sum(weights)
    out = bytearray()
    acc = 0
    for i, w in enumerate(weights):
        acc += w
        out.extend([i] * (round(size * acc / total) - len(out)))
    return bytes(out)


def phone_of_slot(slot: int) -> str:
    """The mobile number of a number slot: unique per slot (the last 8 digits are a permutation)."""
    return (
        f"{MOBILE_PREFIXES[(slot * 7919) % len(MOBILE_PREFIXES)]}"
        f"{(slot * 73_939_133 + 58_204_117) % 100_000_000:08d}"
    )


# phone shapes of the contract: 0 plain, 1 +86 dashed, 2 0086, 3 spaced
PHONE_SHAPES: tuple[str, ...] = ("plain", "plus86_dashed", "0086", "spaced")


def shape_phone(msisdn: str, shape: int) -> str:
    if shape == 0:
        return msisdn
    if shape == 1:
        return f"+86 {msisdn[:3]}-{msisdn[3:7]}-{msisdn[7:]}"
    if shape == 2:
        return f"0086 {msisdn}"
    return f"{msisdn[:3]} {msisdn[3:7]} {msisdn[7:]}"


def mask_phone(msisdn: str) -> str:
    return f"{msisdn[:3]}****{msisdn[7:]}"


def impossible_phone(msisdn: str) -> str:
    """A number no normaliser can accept: the first seven digits only (``1381234``)."""
    return msisdn[:7]


def hall_code(region: int, number: int) -> str:
    return f"{REGIONS[region]}-{number + 1:04d}"


class Population:
    """Customers 0..size-1; the last ``new_count`` of them open during the generated window."""

    def __init__(self, customers: int, seed: int, start: date, days: int) -> None:
        if customers < 20:
            raise ValueError(f"need at least 20 customers, got {customers}")
        if customers >= MAX_CUSTOMERS:
            raise ValueError(f"at most {MAX_CUSTOMERS - 1:,} customers, got {customers:,}")
        self.size = customers
        self.start = start
        self.days = max(1, days)
        self.seed = seed
        self._key = derive_seed(seed, "people")
        self.new_count = min(customers // 20, round(customers * NEW_CUSTOMERS_PER_DAY * self.days))
        self.base = customers - self.new_count
        self.region = bytearray(customers)
        self.tier = bytearray(customers)
        self.status = bytearray(customers)
        self.flags = bytearray(customers)
        self.home_hall = array("H", bytes(2 * customers))
        self.app_users = array("I")
        self.web_users = array("I")
        self.sms_users = array("I")
        self.store_buyers = array("I")
        self._slot: dict[int, int] = {}
        self._email: dict[int, str | None] = {}
        self._build()

    def _build(self) -> None:
        region_t = weight_table(REGION_WEIGHTS)
        tier_t = weight_table(TIER_WEIGHTS)
        status_t = weight_table([955, 28, 17])
        key = self._key
        region, tier, status, flags, home = (
            self.region,
            self.tier,
            self.status,
            self.flags,
            self.home_hall,
        )
        app, web, sms, buyers = self.app_users, self.web_users, self.sms_users, self.store_buyers
        base = self.base
        for i in range(self.size):
            h = mix64(key ^ i)
            r = region_t[h & 1023]
            region[i] = r
            tier[i] = tier_t[(h >> 10) & 1023]
            if i < base:
                status[i] = status_t[(h >> 20) & 1023]
            home[i] = (h >> 30) % HALLS_PER_REGION[r]
            g = mix64(h)
            f = 0
            if g & 1023 < 460:
                f |= APP_USER
                app.append(i)
                if (g >> 40) & 1023 < 200:
                    f |= LATE_BIND
            if (g >> 10) & 1023 < 310:
                f |= WEB_USER
                web.append(i)
            if (g >> 20) & 1023 < 570:
                f |= SMS_USER
                sms.append(i)
            if (g >> 30) & 1023 < 220:
                f |= STORE_BUYER
                buyers.append(i)
            if (g >> 50) & 1023 < 900:
                f |= HAS_MEMBER
            if (g >> 60) < 9:  # 9 of 16
                f |= HAS_EMAIL
                if (h >> 50) & 1023 < 90:
                    f |= MIXED_CASE_EMAIL
            flags[i] = f
        log.debug("population of %d customers built (%d new in window)", self.size, self.new_count)

    # --- time ---------------------------------------------------------------------------

    def open_day_index(self, i: int) -> int:
        """Day index (0 = start) on which a new customer opens; negative for existing ones."""
        if i < self.base:
            return -1
        return (i - self.base) * self.days // self.new_count

    def opened_on(self, day_index: int) -> range:
        """The new customers who open on this day of the window."""
        n, d = self.new_count, self.days
        if n == 0:
            return range(0)
        lo = -(-day_index * n // d)
        hi = -(-(day_index + 1) * n // d)
        return range(self.base + lo, self.base + min(hi, n))

    def open_channel(self, i: int) -> str:
        """Where a new customer opens the number: HALL, WEB or APP."""
        u = (mix64(self._key ^ (i << 20) ^ 0x0C) >> 4) % 100
        if u < 18 and self.flags[i] & WEB_USER:
            return "WEB"
        if u >= 82 and self.flags[i] & APP_USER:
            return "APP"
        return "HALL"

    def open_date(self, i: int) -> date:
        if i >= self.base:
            return self.start + timedelta(days=self.open_day_index(i))
        u = (mix64(self._key ^ (i << 20) ^ 0x0D) & 0xFFFFFF) / 0x1000000
        return self.start - timedelta(days=1 + int(7300 * u**1.7))

    def bind_day_index(self, i: int) -> int:
        """For a late-binding app uid: the first day its events carry the phone number."""
        return (mix64(self._key ^ (i << 20) ^ 0xB1) >> 8) % self.days

    # --- picking who acts -----------------------------------------------------------------

    def pick(self, rng: random.Random, pool: array | None, day_index: int) -> int:
        """A customer to act on ``day_index``: heavy users more often, never before opening."""
        n = self.size if pool is None else len(pool)
        if n == 0:
            pool, n = None, self.size
        base, status = self.base, self.status
        for _ in range(10):
            k = int(n * rng.random() ** ACTIVITY_SKEW)
            i = k if pool is None else pool[k]
            if i >= base and (i - base) * self.days // self.new_count > day_index:
                continue
            if status[i] == CLOSED:
                continue
            return i
        return 0

    # --- identifiers ------------------------------------------------------------------------

    @staticmethod
    def customer_id(i: int) -> str:
        return f"C{i + 1:08d}"

    def msisdn(self, i: int) -> str:
        return phone_of_slot(self._slot.get(i, i))

    def first_msisdn(self, i: int) -> str:
        return phone_of_slot(i)

    def has_changed_msisdn(self, i: int) -> bool:
        return i in self._slot

    def change_msisdn(self, i: int) -> str:
        # a permutation of the index into the reserved range, so the new number looks unrelated
        self._slot[i] = SLOT_CHANGED + (i * 7_654_321 + 1_299_709) % (SLOT_STRANGER - SLOT_CHANGED)
        return self.msisdn(i)

    def member_id(self, i: int) -> str | None:
        if not self.flags[i] & HAS_MEMBER:
            return None
        return f"M{(i * 37_442_161 + 4_108_777) % 100_000_000:08d}"

    @staticmethod
    def uid(i: int) -> str:
        return f"U{(i * 61_813_471 + 9_004_513) % 100_000_000:08d}"

    def visitor_id(self, i: int, device: int) -> str:
        return f"v{mix64(self._key ^ (i << 3) ^ (device + 0x5EED)):016x}"

    def device(self, i: int) -> tuple[str, str]:
        h = mix64(self._key ^ (i << 21) ^ 0xDE)
        os_ = ("android", "android", "android", "ios", "ios", "harmony")[h % 6]
        version = ("9.3.0", "9.2.1", "9.2.1", "9.2.0", "9.1.5", "8.7.2")[(h >> 8) % 6]
        return os_, version

    def email(self, i: int) -> str:
        if i in self._email:
            return self._email[i] or ""
        if not self.flags[i] & HAS_EMAIL:
            return ""
        return self._natural_email(i, mixed=bool(self.flags[i] & MIXED_CASE_EMAIL))

    def _natural_email(self, i: int, mixed: bool) -> str:
        h = mix64(self._key ^ (i << 22) ^ 0xE3)
        sur, given = _SURNAMES[h % len(_SURNAMES)], _GIVEN[(h >> 8) % len(_GIVEN)]
        style, domain = (h >> 16) % 4, _MAIL_DOMAINS[(h >> 24) % len(_MAIL_DOMAINS)]
        if style == 0:
            return f"{100_000 + (i * 7_654_321 + (h >> 32) % 977) % 899_999_999}@qq.com"
        if style == 1:
            local = f"{sur}.{given}{i % 1000}"
            local = local.title() if mixed else local
        elif style == 2:
            local = f"{given}{sur}{1970 + (h >> 40) % 36}"
            local = local.capitalize() if mixed else local
        else:
            local = f"{sur}_{given}{i}"
        text = f"{local}@{domain}"
        return text.upper() if mixed and style == 3 else text

    def set_email(self, i: int, value: str | None) -> None:
        self._email[i] = value

    def restyle_email(self, i: int) -> str | None:
        """An e-mail change for the CRM: add one, drop it, or re-type it in other letter case."""
        current = self.email(i)
        if not current:
            new: str | None = self._natural_email(i, mixed=False)
        elif current.islower() or current[0].isdigit():
            new = current.upper() if (i & 1) else ""
        else:
            new = current.lower()
        self._email[i] = new or None
        return new

    def store_account(self, i: int, platform: str) -> str:
        """The customer's buyer account on a platform: unique per customer and platform."""
        if platform == "taobao":
            h = mix64(self._key ^ (i << 23) ^ 0x7B)
            n = (i * 29_986_577 + 3_131_313) % 100_000_000
            return f"{_NICKS[h % len(_NICKS)]}_{n:08d}" if h & 0x100 else f"tb{n:08d}"
        if platform == "jd":
            return f"jd_{(i * 48_271_403 + 777_777) % 100_000_000:08x}"
        return str(1_000_000_000 + (i * 15_485_863 + 5_550_001) % 100_000_000)

    @staticmethod
    def stranger_msisdn(rng: random.Random) -> str:
        """A mobile number that belongs to no customer."""
        return phone_of_slot(SLOT_STRANGER + int(rng.random() * 9_000_000))

    def stranger_account(self, rng: random.Random, platform: str) -> str:
        n = int(rng.random() * 900_000_000) + 100_000_000
        if platform == "taobao":
            return f"tb{n:09d}"
        if platform == "jd":
            return f"jd_{n:09x}"
        return str(3_000_000_000 + n)

    def hall_of(self, i: int) -> tuple[int, int]:
        """(region index, hall number) of the customer's usual hall, in the current region."""
        r = self.region[i]
        return r, self.home_hall[i] % HALLS_PER_REGION[r]

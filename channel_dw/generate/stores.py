"""stores — flagship store orders: ``stores/<platform>_orders_YYYYMMDD.xlsx`` (taobao, jd, meituan).

Each platform has its own column names and status words. Phones are masked unless the order is
collected in a hall (O2O, the hall code is given); times are real Excel datetimes in some files and
text in others, amounts numbers in some and ``¥199.00`` text in others. An order appears again
in a later day's file whenever its status changes (paid → completed, paid → refunded ...).
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

import xlsxwriter

from channel_dw.generate.clock import CURVE_HALL, CURVE_ONLINE, hour_table, random_second
from channel_dw.generate.common import FileJob, Pickup, StoreOrder, World
from channel_dw.generate.people import (
    HAS_MEMBER,
    hall_code,
    impossible_phone,
    mask_phone,
    mix64,
    shape_phone,
    weight_table,
)
from channel_dw.generate.plants import (
    EXAMPLE_CAP,
    RULE_BAD_MSISDN,
    RULE_BAD_TIMESTAMP,
    RULE_UNKNOWN_CODE,
)

log = logging.getLogger(__name__)

PLATFORMS: tuple[str, ...] = ("taobao", "jd", "meituan")
PLATFORM_SHARE: dict[str, float] = {"taobao": 0.5, "jd": 0.3, "meituan": 0.2}

# order, account, phone, created, paid, item, sku, quantity, amount, status, member, pickup
COLUMNS: dict[str, tuple[str, ...]] = {
    "taobao": ("订单编号", "买家会员名", "买家手机", "下单时间", "付款时间", "宝贝标题", "商家编码",
               "数量", "实付金额", "订单状态", "会员号", "自提门店"),
    "jd": ("订单号", "用户账号", "联系电话", "下单时间", "支付时间", "商品名称", "SKU", "购买数量",
           "应付金额", "订单状态", "会员编号", "门店自提"),
    "meituan": ("订单ID", "用户ID", "手机号", "创建时间", "支付时间", "商品", "商品编码", "份数",
                "实付(元)", "状态", "会员卡号", "到店门店"),
}  # fmt: skip
STATUS_TEXT: dict[str, dict[str, str]] = {
    "taobao": {
        "paid": "已付款",
        "completed": "交易成功",
        "closed": "交易关闭",
        "refunded": "退款成功",
    },
    "jd": {"paid": "等待收货", "completed": "已完成", "closed": "已取消", "refunded": "退款"},
    "meituan": {"paid": "已支付", "completed": "已完成", "closed": "已取消", "refunded": "已退款"},
}

# sku, title, unit price in fen, chance of an O2O pickup in a hall
CATALOGUE: dict[str, tuple[tuple[str, str, int, float], ...]] = {
    "DEV-": (
        ("DEV-HW-M70P-512", "华为 HUAWEI Mate 70 Pro 12GB+512GB 5G手机 山西移动合约", 699900, 0.55),
        ("DEV-AP-IP17-256", "Apple iPhone 17 256GB 5G手机 全网通", 599900, 0.35),
        ("DEV-XM-15-256", "小米15 12GB+256GB 徕卡影像 5G手机", 399900, 0.3),
        ("DEV-OP-RENO14", "OPPO Reno14 16GB+512GB 5G拍照手机", 329900, 0.3),
    ),
    "SIM-": (
        ("SIM-5G-58", "山西移动 5G 58元套餐 新号卡 选号入网", 5000, 0.6),
        ("SIM-5G-128", "山西移动 5G 128元畅享套餐 靓号卡", 10000, 0.65),
        ("SIM-DATA-39", "大流量卡 39元/月 100G通用流量", 3900, 0.3),
    ),
    "BB-": (
        ("BB-1000M-1Y", "山西移动 千兆宽带 包年 免费上门安装", 120000, 0.15),
        ("BB-300M-1Y", "移动宽带 300M 一年 含光猫", 58800, 0.1),
    ),
    "TOPUP-": (
        ("TOPUP-50", "山西移动 话费充值 50元 快充", 4990, 0.0),
        ("TOPUP-100", "山西移动 话费充值 100元 快充 24小时自动到账", 9980, 0.0),
        ("TOPUP-200", "山西移动 话费充值 200元", 19950, 0.0),
    ),
    "DATA-": (
        ("DATA-10G-30D", "山西移动 流量包 10GB 30天有效", 3000, 0.0),
        ("DATA-5G-7D", "5GB 7天流量包 全国通用", 1500, 0.0),
    ),
}
PREFIXES: tuple[str, ...] = tuple(CATALOGUE)
_PREFIX_TABLE = weight_table((22, 18, 10, 32, 18))
STRANGER_SHARE = 0.1
BOUND_MEMBER_SHARE = 0.5  # orders whose buyer has bound the operator membership
PICKUP_BOOST = {"taobao": 1.0, "jd": 0.8, "meituan": 1.6}


def order_number(platform: str, ymd: str, n: int) -> str:
    if platform == "taobao":
        return f"4{ymd[2:]}{mix64(n) % 10**12:012d}"
    if platform == "jd":
        return f"3{ymd[3:]}{n:06d}"
    return f"6{ymd[2:]}{mix64(n ^ 0x6D7475616E) % 10**10:010d}"


_BAD_TIMES = ("{y}-{m}-32 10:15:00", "{y}-13-{d} 09:00:00", "下单时间未知", "0000-00-00 00:00:00")
_UNKNOWN_SKUS = (("GIFT-CASE-01", "赠品 手机壳 不单独销售"), ("VIP-CARD-01", "会员权益卡 月卡"))


class _StoreDay:
    """The orders of one platform on one day: new ones, reappearing ones, planted ones."""

    def __init__(self, job: FileJob, world: World, platform: str) -> None:
        self.job = job
        self.world = world
        self.people = world.people
        self.platform = platform
        self.rng = job.rng
        # (modified second, order, status shown, planted rule or "")
        self.rows: list[tuple[int, StoreOrder, str, str]] = []

    def new_order(
        self,
        sec: int,
        i: int,
        prefix: str | None = None,
        account: str | None = None,
        follow: bool = True,
        member: str | None = None,
        pickup: bool | None = None,
    ) -> StoreOrder:
        rng, people, world, job = self.rng, self.people, self.world, self.job
        platform = self.platform
        if prefix is None:  # the first orders of a landing show every SKU prefix once
            if world.prefixes_shown < len(PREFIXES):
                prefix = PREFIXES[world.prefixes_shown]
                world.prefixes_shown += 1
            else:
                prefix = PREFIXES[_PREFIX_TABLE[int(rng.random() * 1024)]]
        world.order_counter += 1
        items = CATALOGUE[prefix]
        sku, title, price, pickup_chance = items[int(rng.random() * len(items))]
        quantity = 1 + (prefix == "TOPUP-" and rng.random() < 0.2)
        bound, hall = "", ""
        if i < 0:
            phone = people.stranger_msisdn(rng)
            account = account or people.stranger_account(rng, platform)
            shown = mask_phone(phone)
        else:
            phone = people.msisdn(i)
            account = account or people.store_account(i, platform)
            if people.flags[i] & HAS_MEMBER and rng.random() < BOUND_MEMBER_SHARE:
                bound = people.member_id(i) or ""
            wants_pickup = rng.random() < pickup_chance * PICKUP_BOOST[platform]
            if pickup if pickup is not None else wants_pickup:
                hall = hall_code(*people.hall_of(i))
            shape = int(rng.random() * 4)
            shown = shape_phone(phone, shape) if hall else mask_phone(phone)
        if member is not None:
            bound = member
        closed = follow and rng.random() < 0.06
        paid = None if closed else sec + 5 + int(rng.random() * 900)
        order = StoreOrder(
            platform=platform,
            order_no=order_number(platform, job.ymd, world.order_counter),
            customer=i,
            account=account,
            phone=shown,
            created=sec,
            created_day=job.day,
            paid=paid,
            item=title,
            sku=sku,
            quantity=quantity,
            amount_fen=price * quantity,
            member_id=bound,
            pickup_hall="" if closed else hall,
            status="closed" if closed else "paid",
        )
        self.rows.append((sec if paid is None else paid, order, order.status, ""))
        if follow and not closed:
            self.schedule(order)
        return order

    def schedule(self, order: StoreOrder) -> None:
        """Later status changes of a paid order, and its pickup in a hall."""
        rng, world, day = self.rng, self.world, self.job.day
        updates = world.store_updates
        if order.pickup_hall:
            pickup_day = day + timedelta(days=1 + int(rng.random() * 3))
            sec = random_second(rng, hour_table(CURVE_HALL))
            world.pickups[pickup_day].append(
                Pickup(
                    order.order_no,
                    order.platform,
                    order.pickup_hall,
                    order.customer,
                    order.phone,
                    sec,
                )
            )
            updates[pickup_day].append((sec + 60 + int(rng.random() * 600), order, "completed"))
            return
        u = rng.random()
        if u < 0.78:
            later = day + timedelta(days=2 + int(rng.random() * 6))
            updates[later].append((int(rng.random() * 86000), order, "completed"))
        elif u < 0.88:
            later = day + timedelta(days=1 + int(rng.random() * 5))
            updates[later].append((int(rng.random() * 86000), order, "refunded"))
        elif u < 0.91:
            updates[day + timedelta(days=3)].append((30000, order, "completed"))
            updates[day + timedelta(days=6)].append((40000, order, "refunded"))

    def planted_bad(self, rule: str) -> None:
        """An extra order that breaks a row rule; it is not followed up later."""
        rng = self.rng
        i = self.people.pick(rng, self.people.store_buyers, self.job.day_index)
        sec = random_second(rng, hour_table(CURVE_ONLINE))
        self.new_order(sec, i, prefix="DEV-", follow=False, pickup=rule == RULE_BAD_MSISDN)
        modified, order, status, _ = self.rows.pop()
        self.rows.append((modified, order, status, rule))

    def shared_account(self) -> tuple[int, int, str]:
        """Two customers ordering with one buyer account, each with their own member id."""
        people, rng = self.people, self.rng
        pool = [
            i
            for i in people.store_buyers[:200]
            if people.flags[i] & HAS_MEMBER and people.status[i] == 0 and i < people.base
        ]
        a, b = (
            (pool[0], pool[1])
            if len(pool) >= 2
            else (people.store_buyers[0], people.store_buyers[1])
        )
        account = people.store_account(a, self.platform)
        hours = hour_table(CURVE_ONLINE)
        for i in (a, b):
            self.new_order(
                random_second(rng, hours),
                i,
                prefix="TOPUP-",
                account=account,
                member=people.member_id(i) or "",
                follow=False,
            )
        return a, b, account


def _cell_time(day: date, sec: int) -> datetime:
    return datetime(day.year, day.month, day.day) + timedelta(seconds=sec)


def write_store_file(job: FileJob, world: World, platform: str) -> int:
    """Write one platform's orders of the day; returns the rows (orders, new or changed)."""
    rng, side, people = job.rng, job.side_rng, world.people
    day = _StoreDay(job, world, platform)
    hours = hour_table(CURVE_ONLINE)
    for _ in range(job.target):
        i = (
            -1
            if rng.random() < STRANGER_SHARE
            else people.pick(rng, people.store_buyers, job.day_index)
        )
        day.new_order(random_second(rng, hours), i)
    shared = None
    specials = world.specials
    if job.plants.enabled and specials and specials.shared_account == job.day_index:
        if platform == "taobao":
            shared = day.shared_account()
    while job.bad.next_at != job.bad.NEVER:
        day.planted_bad(job.bad.kind)
        job.bad.advance()
    for sec, order, status in world.store_updates.get(job.day, []):
        if order.platform == platform:
            day.rows.append((sec, order, status, ""))
    day.rows.sort(key=lambda r: (r[0], r[1].order_no))

    key = mix64(world.seed ^ (job.day.toordinal() << 4) ^ PLATFORMS.index(platform))
    excel_times, text_amounts = bool(key & 1), bool(key & 2)
    job.info["times"] = "excel" if excel_times else "text"
    job.info["amounts"] = "text" if text_amounts else "number"
    job.path.parent.mkdir(parents=True, exist_ok=True)
    book = xlsxwriter.Workbook(
        str(job.path),
        {"in_memory": True, "strings_to_numbers": False, "strings_to_urls": False},
    )
    book.set_properties({"created": datetime(2026, 1, 1), "author": f"{platform} export"})
    sheet = book.add_worksheet("订单")
    time_fmt = book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    money_fmt = book.add_format({"num_format": "0.00"})
    sheet.write_row(0, 0, COLUMNS[platform])
    words = STATUS_TEXT[platform]
    shared_lines: list[int] = []
    for r, (_sec, order, status, rule) in enumerate(day.rows, start=1):
        line = r + 1
        created = _cell_time(order.created_day, order.created)
        paid = None if order.paid is None else _cell_time(order.created_day, order.paid)
        phone, sku, item = order.phone, order.sku, order.item
        bad_created = ""
        if rule == RULE_BAD_TIMESTAMP:
            ymd = job.ymd
            pattern = _BAD_TIMES[int(side.random() * len(_BAD_TIMES))]
            bad_created = pattern.format(y=ymd[:4], m=ymd[4:6], d=ymd[6:])
            value, column = bad_created, COLUMNS[platform][3]
        elif rule == RULE_BAD_MSISDN:
            phone = value = impossible_phone(people.msisdn(order.customer))
            column = COLUMNS[platform][2]
        elif rule == RULE_UNKNOWN_CODE:
            sku, item = _UNKNOWN_SKUS[int(side.random() * len(_UNKNOWN_SKUS))]
            value, column = sku, COLUMNS[platform][6]
        sheet.write_string(r, 0, order.order_no)
        sheet.write_string(r, 1, order.account)
        sheet.write_string(r, 2, phone)
        if bad_created:
            sheet.write_string(r, 3, bad_created)
        elif excel_times:
            sheet.write_datetime(r, 3, created, time_fmt)
        else:
            sheet.write_string(r, 3, created.strftime("%Y-%m-%d %H:%M:%S"))
        if paid is None:
            sheet.write_blank(r, 4, None)
        elif excel_times:
            sheet.write_datetime(r, 4, paid, time_fmt)
        else:
            sheet.write_string(r, 4, paid.strftime("%Y-%m-%d %H:%M:%S"))
        sheet.write_string(r, 5, item)
        sheet.write_string(r, 6, sku)
        sheet.write_number(r, 7, order.quantity)
        if text_amounts:
            sheet.write_string(r, 8, f"¥{order.amount_fen / 100:.2f}")
        else:
            sheet.write_number(r, 8, order.amount_fen / 100, money_fmt)
        sheet.write_string(r, 9, words[status])
        sheet.write_string(r, 10, order.member_id)
        sheet.write_string(r, 11, order.pickup_hall)
        if rule:
            job.plants.bad_row(
                "stores", job.name, line, rule, f"{platform}:{order.order_no}", column, value
            )
        _note(job, order, status, line, shared_lines, shared)
    book.close()
    if shared is not None:
        a, b, account = shared
        job.plants.add(
            "shared_store_account",
            "links_nobody",
            source="stores",
            file=job.name,
            platform=platform,
            account=account,
            customers=[people.customer_id(a), people.customer_id(b)],
            member_ids=[people.member_id(a), people.member_id(b)],
            lines=shared_lines,
        )
    return len(day.rows)


def _note(
    job: FileJob,
    order: StoreOrder,
    status: str,
    line: int,
    shared_lines: list[int],
    shared: tuple[int, int, str] | None,
) -> None:
    """Manifest entries for one written order row."""
    plants = job.plants
    if not plants.enabled:
        return
    if shared is not None and order.account == shared[2] and order.customer in shared[:2]:
        shared_lines.append(line)
    if not order.first_file:
        order.first_file, order.first_line, order.last_status = job.name, line, status
        if order.pickup_hall and order.customer >= 0 and "*" not in order.phone:
            shape = (
                1
                if order.phone[0] == "+"
                else 2
                if order.phone[0] == "0"
                else (3 if " " in order.phone else 0)
            )
            job.phone(shape, order.phone, line, COLUMNS[order.platform][2], order.phone)
        if "*" in order.phone:
            plants.add(
                "masked_store_phone",
                "identifies_nobody",
                source="stores",
                file=job.name,
                line=line,
                value=order.phone,
                cap=3,
            )
        return
    # an order listed once is followed past the cap, so its last listed status is its latest
    listed = plants.add(
        "store_status_change",
        "latest_status_wins",
        source="stores",
        file=job.name,
        line=line,
        platform=order.platform,
        order_no=order.order_no,
        first_file=order.first_file,
        first_line=order.first_line,
        status_before=STATUS_TEXT[order.platform][order.last_status],
        status_after=STATUS_TEXT[order.platform][status],
        cap=None if order.listed else EXAMPLE_CAP,
    )
    order.listed = order.listed or listed
    order.last_status = status


def forget_day(world: World, day: date) -> None:
    """Drop the status changes of a day once every platform file of the day is written."""
    world.store_updates.pop(day, None)


from pathlib import Path  # noqa: E402  (appended for the bulk writer below)

from channel_dw.generate.common import clean_job  # noqa: E402


def write_store_orders(path: Path, rows: int, seed: int = 1, day: date = date(2026, 10, 1)) -> int:
    """One big valid store order workbook of ``rows`` orders (benchmarks); returns the rows.

    The platform comes from the file name (``<platform>_orders_YYYYMMDD.xlsx``); whether times are
    Excel datetimes and amounts numbers follows the seed, the day and the platform, as in a landing.
    """
    platform = path.name.split("_", 1)[0]
    if platform not in PLATFORMS:
        raise ValueError(f"{path.name} is not a <platform>_orders_YYYYMMDD.xlsx name")
    world, job = clean_job("stores", path, rows, seed, day)
    return write_store_file(job, world, platform)

"""The built-in data_generator reader (spec §7.1): fake records, fast enough that a benchmark measures
the engine rather than the generator."""

import functools
import random
import struct
import time
from datetime import datetime

from jobs.ops.api import Fetcher, Reader, Slicer
from jobs.ops.registry import implement
from jobsite.errors import Invalid


class DataGeneratorSlicer(Slicer):
    """`once`: `{count, processed}` requests covering `size` records; `persistent`: endless requests.

    `processed` is the number of records requested before this slice, so a recovery continues from the
    last completed request's `processed + count`.
    """

    def __init__(self, context, slicer_id, total_slicers, start_point=None):
        super().__init__(context, slicer_id, total_slicers, start_point)
        self.size = self.op_config["size"]
        # Teraslice sizes the slices by the job's last operation (typically a sender's bulk size).
        self.slice_size = context.job_config["operations"][-1].get("size") or 5000
        self.processed = start_point["processed"] + start_point["count"] if start_point else 0

    def slice(self):
        count = self.slice_size
        if not self.persistent:
            count = min(count, self.size - self.processed)
            if count <= 0:
                return None
        request = {"count": count, "processed": self.processed}
        self.processed += count
        return request

    def is_recoverable(self):
        return True

    def max_queue_length(self, workers):
        return 3 * workers

    def checkpoint(self):
        return {"processed": self.processed}

    def restore(self, state):
        self.processed = state["processed"]


USER_AGENTS = tuple(
    f"Mozilla/5.0 ({system}) {engine}"
    for system in (
        "Windows NT 10.0; Win64; x64",
        "Macintosh; Intel Mac OS X 10_15_7",
        "X11; Linux x86_64",
        "iPhone; CPU iPhone OS 17_4 like Mac OS X",
        "Linux; Android 14; Pixel 8",
        "Windows NT 6.1; WOW64",
    )
    for engine in (
        "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
        "Gecko/20100101 Firefox/125.0",
        "AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
        "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0.0.0 Safari/537.36 Edg/123.0.2420.81",
    )
)
WORDS = (
    "able acme alpha amber apex arc aurora bay beacon birch blue bolt brisk cedar cloud coral crest delta "
    "dune echo ember fable fern flint forge frost gale glade harbor haven iris jade juniper karma lark "
    "lumen maple meadow mesa nova oak orbit pine prism quartz raven ridge river sage shore sierra solar "
    "spark summit terra tide timber vale vertex willow zenith"
).split()
TLDS = ("com", "net", "org", "io", "info", "biz", "name", "co", "dev", "us")


def _url_pool(size=2048):
    rng = random.Random(7)
    urls = []
    for _ in range(size):
        host = f"{rng.choice(WORDS)}{rng.choice(('', '-'))}{rng.choice(WORDS)}.{rng.choice(TLDS)}"
        path = rng.choice(("", "", f"/{rng.choice(WORDS)}", f"/{rng.choice(WORDS)}/{rng.choice(WORDS)}"))
        urls.append(f"{rng.choice(('http', 'https'))}://{host}{path}")
    return tuple(urls)


URLS = _url_pool()
UUID_VARIANTS = "89ab"
BASE64URL_FIRST = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ123456789-_"
WORD_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"
OCTETS = tuple(str(n) for n in range(256))
TWO_DIGITS = tuple(f"{n:02d}" for n in range(100))
THREE_DIGITS = tuple(f"{n:03d}" for n in range(1000))
DAY_MS = 86_400_000


def utc_offset(seconds: int) -> str:
    sign, seconds = ("-", -seconds) if seconds < 0 else ("+", seconds)
    return f"{sign}{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


class DateRenderer:
    """Epoch milliseconds as `2016-01-19T20:48:08.426Z` (JavaScript's `toISOString`) or, with `local`, as
    `2016-01-19T13:48:08.426-07:00` (moment's `YYYY-MM-DDTHH:mm:ss.SSSZ` in the local time zone).

    Formatting a date is most of the cost of a record, so the date part is computed once per day.
    """

    def __init__(self, local: bool = False):
        self.local = local
        # The offset in seconds when it never changes (UTC, or a local zone without daylight saving time).
        self.fixed_offset = None if local and time.daylight else -time.timezone if local else 0
        self.suffix = "Z" if not local else None if self.fixed_offset is None else utc_offset(self.fixed_offset)
        self.days: dict[int, str] = {}

    def __call__(self, ms: int) -> str:
        suffix = self.suffix
        if suffix is None:
            offset = time.localtime(ms // 1000).tm_gmtoff
            ms += offset * 1000
            suffix = utc_offset(offset)
        else:
            ms += self.fixed_offset * 1000
        day, rest = divmod(ms, DAY_MS)
        date = self.days.get(day)
        if date is None:
            t = time.gmtime(day * 86_400)
            date = self.days[day] = f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T"
        seconds, millis = divmod(rest, 1000)
        minutes, seconds = divmod(seconds, 60)
        hours, minutes = divmod(minutes, 60)
        return f"{date}{TWO_DIGITS[hours]}:{TWO_DIGITS[minutes]}:{TWO_DIGITS[seconds]}.{THREE_DIGITS[millis]}{suffix}"


def epoch_ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso).timestamp() * 1000)


@functools.cache
def coordinates() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """4096 latitudes and 4096 longitudes with 5 decimals (chance's `coordinates`)."""
    rng = random.Random(4096)
    return (
        tuple(f"{rng.uniform(-90, 90):.5f}" for _ in range(4096)),
        tuple(f"{rng.uniform(-180, 180):.5f}" for _ in range(4096)),
    )


# Up to this many records are made one by one (`FakeRecords.one`): building the columns costs ~7 µs a call
# whatever the count: 8.4 µs for a one-record slice, against 3.7 one by one.
FEW_RECORDS = 4
PICKS = struct.Struct("=4HI")  # four 16-bit picks (agent, url, latitude, longitude) and a 32-bit size


class FakeRecords:
    """Fast fake records `{ip, userAgent, url, uuid, <date_key>, ipv6, location, bytes}` (+ `id` with `set_id`).

    Randomness is drawn in bulk from one `random.Random` (bytes, cut by C-level slicing) and each field is
    built column by column: several hundred thousand records a second in one process.
    """

    def __init__(self, options: dict, rng: random.Random | None = None):
        self.rng = rng or random.Random()
        self.date_key = options["date_key"]
        self.set_id = options["set_id"]
        self.id_prefix = options["id_start_key"] or ""
        self.format = options["format"] or "dateNow"
        self.render = DateRenderer(local=self.format in ("dateNow", "isoBetween"))
        if self.format in ("isoBetween", "utcBetween"):
            self.start = epoch_ms(options["start"]) if options["start"] else 0
            end = epoch_ms(options["end"]) if options["end"] else int(time.time() * 1000)
            self.span = end - self.start

    def dates(self, count: int) -> list[str]:
        """`dateNow` and `utcDate` give the moment of the call to every record; the others a random moment
        in [start, end) each."""
        if self.format in ("dateNow", "utcDate"):
            return [self.render(int(time.time() * 1000))] * count
        draw, render, start, span = self.rng.random, self.render, self.start, self.span
        return [render(start + int(draw() * span)) for _ in range(count)]

    def make(self, count: int) -> list[dict]:
        if count <= 0:
            return []
        if count <= FEW_RECORDS:
            return [self.one() for _ in range(count)]
        rng = self.rng
        octets, agents, urls = OCTETS, USER_AGENTS, URLS
        latitudes, longitudes = coordinates()
        ip = rng.randbytes(4 * count)
        ips = [f"{octets[a]}.{octets[b]}.{octets[c]}.{octets[d]}" for a, b, c, d in zip(*(ip[k::4] for k in range(4)))]
        picks = memoryview(rng.randbytes(8 * count)).cast("H")
        user_agents = [agents[n % len(agents)] for n in picks[::4]]
        url_list = [urls[n % len(urls)] for n in picks[1::4]]
        locations = [f"{latitudes[a & 4095]}, {longitudes[b & 4095]}" for a, b in zip(picks[2::4], picks[3::4])]
        hexes = rng.randbytes(16 * count).hex()
        variants = rng.randbytes(count)
        uuids = [
            f"{hexes[i : i + 8]}-{hexes[i + 8 : i + 12]}-4{hexes[i + 13 : i + 16]}-"
            f"{UUID_VARIANTS[v & 3]}{hexes[i + 17 : i + 20]}-{hexes[i + 20 : i + 32]}"
            for i, v in zip(range(0, 32 * count, 32), variants)
        ]
        # Groups of 4 hex digits separated by ":" for all records at once; each record takes 8 groups.
        v6 = rng.randbytes(16 * count).hex(":", 2)
        ipv6s = [v6[i : i + 39] for i in range(0, 40 * count, 40)]
        sizes = [7850 + n % 5_635_018 for n in memoryview(rng.randbytes(4 * count)).cast("I")]
        date_key = self.date_key
        columns = zip(ips, user_agents, url_list, uuids, self.dates(count), ipv6s, locations, sizes)
        records = [
            {"ip": a, "userAgent": b, "url": c, "uuid": d, date_key: e, "ipv6": f, "location": g, "bytes": h}
            for a, b, c, d, e, f, g, h in columns
        ]
        if self.set_id:
            for record in records:
                record["id"] = self.id_prefix + self._id()
        return records

    def one(self) -> dict:
        """One record as `make` builds them, from a single draw of random bytes: [0:4] the ip, [4:16] the
        user agent, url, location and size picks, [16:32] the uuid, [32:48] the ipv6, [48] the uuid's
        variant."""
        raw = self.rng.randbytes(49)
        agent, url, latitude, longitude, size = PICKS.unpack_from(raw, 4)
        latitudes, longitudes = coordinates()
        hexes = raw[16:32].hex()
        record = {
            "ip": f"{OCTETS[raw[0]]}.{OCTETS[raw[1]]}.{OCTETS[raw[2]]}.{OCTETS[raw[3]]}",
            "userAgent": USER_AGENTS[agent % len(USER_AGENTS)],
            "url": URLS[url % len(URLS)],
            "uuid": f"{hexes[:8]}-{hexes[8:12]}-4{hexes[13:16]}-{UUID_VARIANTS[raw[48] & 3]}{hexes[17:20]}-{hexes[20:]}",
            self.date_key: self.dates(1)[0],
            "ipv6": raw[32:48].hex(":", 2),
            "location": f"{latitudes[latitude & 4095]}, {longitudes[longitude & 4095]}",
            "bytes": 7850 + size % 5_635_018,
        }
        if self.set_id:
            record["id"] = self.id_prefix + self._id()
        return record

    def _id(self) -> str:
        choices = self.rng.choices
        if self.set_id == "base64url":
            return choices(BASE64URL_FIRST)[0] + "".join(choices(WORD_CHARS, k=8))
        digits = "".join(choices("0123456789abcdef", k=8))
        return digits.upper() if self.set_id == "HEXADECIMAL" else digits


class DataGeneratorFetcher(Fetcher):
    def __init__(self, context):
        super().__init__(context)
        if self.op_config["json_schema"]:
            raise Invalid("data_generator: json_schema is not supported, remove it to generate the default records")
        self.records = FakeRecords(self.op_config)

    def fetch(self, request):
        if request is None:
            return []
        count = request["count"]
        if self.op_config["stress_test"]:
            # The same record, as separate objects so that a processor changing one changes only one.
            record = self.records.make(1)[0]
            records = [dict(record) for _ in range(count)]
        else:
            records = self.records.make(count)
        if self.op_config["delay"]:
            time.sleep(self.op_config["delay"])
        return records


implement("data_generator", Reader(DataGeneratorSlicer, DataGeneratorFetcher))

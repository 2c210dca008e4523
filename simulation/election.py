"""A synthetic but realistic election for tests and the demo.

Shaped on the 2025 early parliamentary elections (a multi-mandate district,
3 seats, DOMAIN.md "Ballots and contests" 1) and the 2021 party-list contest
(54 numbered boxes, open lists, DOMAIN.md "Ballots and contests" 2), with a
voter list whose shares follow DOMAIN.md "Voter lists and eligibility":
about 4% registered less than ``community_days`` before voting day (party
list only), 2% living abroad, 1% remote-voting applicants.

Everything is deterministic in ``seed``. Contest ids: ``district-07``
(candidate, electing the ОИК ``OIK-07``) and ``party-list``; ballot styles
``bs-district-07`` and ``bs-party-list`` (one contest per sheet, as printed in
Kyrgyzstan). A remote-voting site's election, with every district's contest
and the national list, is simulation/remote.py's.
"""

from __future__ import annotations

import concurrent.futures as cf
import datetime as dt
import os
import random
from collections.abc import Iterator

from biometrics.enrolment import enrol
from biometrics.synthetic import SyntheticFinger, finger_seed

VOTING_DAY = dt.date(2025, 11, 30)

KY_SURNAMES_M = ["Асанов", "Жээнбеков", "Сыдыков", "Токтогулов", "Бакиев", "Өмүрбеков", "Үсөнов",
                 "Абдыкадыров", "Жумабеков", "Мамытов", "Турдубаев", "Ниязбеков", "Осмонов", "Кадыров",
                 "Эркинбеков", "Түлөбердиев", "Сатыбалдиев", "Боронбаев", "Акматов", "Шамшиев",
                 "Курманбеков", "Ырысалиев", "Дөөлөтов", "Мырзакматов", "Алымкулов", "Байсалов"]
KY_NAMES_M = ["Азамат", "Бакыт", "Нурлан", "Айбек", "Эрлан", "Тилек", "Үмөт", "Өмүр", "Жаныбек",
              "Нурбек", "Данияр", "Эрмек", "Санжар", "Талант", "Улан", "Канат", "Мирлан", "Бекжан",
              "Чыңгыз", "Төлөгөн", "Адилет", "Марат"]
KY_NAMES_F = ["Айгүл", "Гүлнара", "Жылдыз", "Нургүл", "Айпери", "Бермет", "Айзада", "Чолпон", "Мээрим",
              "Назира", "Асел", "Үмүт", "Гүлзат", "Айнура", "Динара", "Төрөкан", "Зарина", "Калыйча",
              "Сүйүнбү", "Эльмира", "Бактыгүл"]
RU_SURNAMES_M = ["Иванов", "Петров", "Ким", "Смирнов", "Кузнецов", "Попов", "Васильев", "Новиков",
                 "Морозов", "Волков", "Ли", "Тян"]
RU_NAMES_M = ["Александр", "Сергей", "Дмитрий", "Андрей", "Алексей", "Владимир", "Николай", "Игорь"]
RU_NAMES_F = ["Елена", "Ольга", "Наталья", "Татьяна", "Ирина", "Светлана", "Анна", "Марина"]
RU_PATRONYMS = ["Александров", "Сергеев", "Николаев", "Викторов", "Петров", "Иванов", "Михайлов"]

PARTIES = [
    ("p-ata-jurt", "Ата-Журт Кыргызстан", "Ата-Журт Кыргызстан", "АЖК"),
    ("p-ishenim", "Ишеним", "Ишеним", "ИШН"),
    ("p-yntymak", "Ынтымак", "Ынтымак", "ЫНТ"),
    ("p-alliance", "Альянс", "Альянс", "АЛН"),
    ("p-butun", "Бүтүн Кыргызстан", "Бутун Кыргызстан", "БК"),
    ("p-ata-meken", "Ата Мекен", "Ата Мекен", "АМ"),
    ("p-reforma", "Реформа", "Реформа", "РФМ"),
    ("p-social-dem", "Социал-демократтар", "Социал-демократы", "СД"),
    ("p-meken-yntymagy", "Мекен Ынтымагы", "Мекен Ынтымагы", "МЫН"),
    ("p-yiman-nuru", "Ыйман Нуру", "Ыйман Нуру", "ЫН"),
    ("p-mekenchil", "Мекенчил", "Мекенчил", "МКЧ"),
    ("p-respublika", "Республика", "Республика", "РЕС"),
]


def _person(rng: random.Random, sex: str) -> tuple[str, str, str]:
    """(surname, name, patronymic): about 1 in 8 with Russian-style names."""
    if rng.random() < 0.12:
        sur = rng.choice(RU_SURNAMES_M)
        if sex == "F":
            sur = sur if sur in ("Ким", "Ли", "Тян") else sur + "а"
        name = rng.choice(RU_NAMES_F if sex == "F" else RU_NAMES_M)
        pat = rng.choice(RU_PATRONYMS) + ("на" if sex == "F" else "ич")
        return sur, name, pat
    sur = rng.choice(KY_SURNAMES_M)
    if sex == "F":
        sur = sur + "а"
    name = rng.choice(KY_NAMES_F if sex == "F" else KY_NAMES_M)
    father = rng.choice(KY_NAMES_M)
    pat = f"{father} {'кызы' if sex == 'F' else 'уулу'}"
    return sur, name, pat


def district_candidates(rng: random.Random, n: int = 9) -> list[dict]:
    """A candidate contest's candidates (one withdrawn when n > 7), ballot order set by lot (DOMAIN.md)."""
    district = []
    for i in range(n):
        sex = "F" if i % 3 == 1 else "M"
        sur, name, pat = _person(rng, sex)
        district.append({"id": f"c-{i + 1:02d}", "surname": sur, "name": name, "patronymic": pat,
                         "birth_year": rng.randint(1960, 1995), "sex": sex, "lot_order": 0,
                         "withdrawn": i == 7, "registered_at": f"2025-10-{10 + i:02d}T10:00:00Z"})
    order = list(range(len(district)))
    rng.shuffle(order)
    for pos, i in enumerate(order):
        district[i]["lot_order"] = pos + 1
    return district


def district_contest(number: int, candidates: list[dict]) -> dict:
    """The 2025 multi-mandate district ``number`` (3 seats): contest ``district-NN`` electing ``OIK-NN``."""
    return {"id": f"district-{number:02d}", "kind": "candidate", "district": f"OIK-{number:02d}",
            "title": {"ky": f"№{number} көп мандаттуу шайлоо округу",
                      "ru": f"Многомандатный избирательный округ №{number}"},
            "seats": 3, "against_all": True, "territorial": True, "candidates": candidates}


def demo_manifest(seed: int = 1, *, station_number: int = 1234, package_version: int = 1,
                  voting_day: dt.date = VOTING_DAY) -> dict:
    """The manifest's election part (without the files list), deterministic in ``seed``."""
    rng = random.Random(f"election-{seed}")
    district = district_candidates(rng)
    parties = []
    lot = list(range(len(PARTIES)))
    rng.shuffle(lot)
    for k, (pid, ky, ru, short) in enumerate(PARTIES):
        size = rng.randint(30, 54)
        cands = []
        for n in range(1, size + 1):
            sex = "F" if n % 3 == 0 else "M"    # list quotas: every third a woman
            sur, name, pat = _person(rng, sex)
            cands.append({"number": n, "surname": sur, "name": name, "patronymic": pat, "sex": sex,
                          "withdrawn": rng.random() < 0.03})
        parties.append({"id": pid, "name": {"ky": ky, "ru": ru}, "short": short, "lot_order": lot[k] + 1,
                        "candidates": cands})
    return {
        "format": "uchastok-election-package/1",
        "package_version": package_version,
        "election": {
            "id": f"kg-{voting_day.year}-parliament",
            "name": {"ky": f"Жогорку Кеңештин депутаттарын шайлоо {voting_day.year}",
                     "ru": f"Выборы депутатов Жогорку Кенеша {voting_day.year}"},
            "voting_day": voting_day.isoformat(), "time_zone": "Asia/Bishkek",
            "polls_open": "08:00", "polls_close": "20:00",
            "min_age": 18, "community_days": 90,
        },
        "station": {
            "id": f"UIK-{station_number}", "number": station_number,
            "name": {"ky": f"№{station_number} шайлоо участогу", "ru": f"Избирательный участок №{station_number}"},
            "address": {"ky": "Бишкек ш., Чүй пр., 120, №61 мектеп",
                        "ru": "г. Бишкек, пр. Чуй, 120, школа №61"},
            "region": {"code": "KG-GB", "name": {"ky": "Бишкек шаары", "ru": "город Бишкек"}},
            "oik": {"code": "OIK-07", "name": {"ky": "№7 шайлоо округу", "ru": "Избирательный округ №7"}},
            "tik": {"code": "TIK-GB-LEN", "name": {"ky": "Ленин району", "ru": "Ленинский район"}},
        },
        "contests": [
            district_contest(7, district),
            {"id": "party-list", "kind": "party-list",
             "title": {"ky": "Бирдиктүү шайлоо округу (партиялык тизмелер)",
                       "ru": "Единый избирательный округ (партийные списки)"},
             "seats": 54, "against_all": True, "territorial": False, "number_boxes": 54, "parties": parties},
        ],
        "ballot_styles": [
            {"id": "bs-district-07", "contests": ["district-07"]},
            {"id": "bs-party-list", "contests": ["party-list"]},
        ],
    }


def demo_voters(seed: int, n: int, *, voting_day: dt.date = VOTING_DAY, district: str = "district-07",
                community_days: int = 90) -> Iterator[list[str]]:
    """``n`` voters.csv rows (see identify.voters.VOTER_COLUMNS), unique PINs and document numbers."""
    rng = random.Random(f"voters-{seed}")
    serials: dict[str, int] = {}
    doc_base = rng.randint(1_000_000, 2_000_000)
    for i in range(n):
        sex = "F" if rng.random() < 0.52 else "M"
        age_days = rng.randint(18 * 365 + 5, 90 * 365)
        birth = voting_day - dt.timedelta(days=age_days)
        key = f"{'1' if sex == 'F' else '2'}{birth:%d%m%Y}"
        serials[key] = serials.get(key, rng.randint(0, 500)) + 1
        pin = f"{key}{serials[key]:05d}"
        sur, name, pat = _person(rng, sex)
        r = rng.random()
        overseas = r < 0.02
        remote = 0.02 <= r < 0.03
        if overseas or remote:
            dist, since = "", ""
        elif r < 0.07:   # moved in recently: not yet a community member (party list only)
            dist = district
            since = (voting_day - dt.timedelta(days=rng.randint(5, community_days - 1))).isoformat()
        else:
            dist = district
            since = (voting_day - dt.timedelta(days=rng.randint(community_days + 1, max(community_days + 1, min(30 * 365, age_days))))).isoformat()
        yield [pin, f"ID{(doc_base + i * 7) % 10_000_000:07d}", sur, name, pat, birth.isoformat(), sex,
               dist, since, "1" if overseas else "0", "1" if remote else "0"]


# --- enrolled templates for synthetic voters ------------------------------------
# Each synthetic voter's finger f is SyntheticFinger(finger_seed(seed, pin, f)); the
# population register "enrolled" it from impressions 0 and 1; the simulated
# sensor presents impressions 2 and later on voting day (issue "Biometrics" 4).
ENROLMENT_IMPRESSIONS = (0, 1)
# The register enrols two fingers per voter (issue #11 point 6): (synthetic finger, ISO/IEC 19794-2
# finger position) - the right and the left index finger. The station asks for the second when the
# first does not match (identify/identifier.py rule 5).
ENROLLED_FINGERS = ((0, 2), (1, 7))


def enrolled_templates(seed: int, pin: str, finger: int = 0, position: int | None = None
                       ) -> list[tuple[str, int, bytes]]:
    """templates.csv rows (pin, position * 10 + press, ISO record) of one synthetic finger of a voter
    (``position``: the finger's ISO position, default ``finger``)."""

    pos = finger if position is None else position
    records = enrol(SyntheticFinger(finger_seed(seed, pin, finger)), ENROLMENT_IMPRESSIONS, finger_position=pos)
    return [(pin, pos * 10 + k, rec) for k, rec in enumerate(records)]


def _enrol_one(args: tuple[int, str]) -> list[tuple[str, int, bytes]]:
    seed, pin = args
    return [row for finger, pos in ENROLLED_FINGERS for row in enrolled_templates(seed, pin, finger, pos)]


def enrol_all(seed: int, pins: list[str], progress=None, workers: int | None = None):
    """Templates for every PIN, on all cores; yields rows in PIN order of ``pins``."""

    workers = workers or max(1, (os.cpu_count() or 1))
    with cf.ProcessPoolExecutor(max_workers=workers) as pool:
        for i, rows in enumerate(pool.map(_enrol_one, [(seed, p) for p in pins], chunksize=8)):
            yield from rows
            if progress:
                progress(i + 1, len(pins))

"""A small realistic election manifest for the count and ballot tests and the benchmark.

Matches the demo contest ids of the contract: "district-07" (candidate, 3 seats,
against all, territorial) and "party-list" (open lists, 54 number boxes, against
all); ballot styles "bs-district-07" and "bs-party-list". It includes what the
validity rules need: a withdrawn candidate on the district ballot, withdrawn
list candidates, and a party whose list is shorter than the 54 boxes.
"""

from __future__ import annotations

import random

_SURNAMES_M = ["Асанов", "Токтогулов", "Бакиров", "Жумабеков", "Осмонов", "Сыдыков",
               "Мамытов", "Эркинбеков", "Турдубаев", "Абдыкадыров", "Нурланов", "Үсөнов"]
_SURNAMES_F = ["Асанова", "Токтогулова", "Бакирова", "Жумабекова", "Осмонова", "Сыдыкова",
               "Мамытова", "Эркинбекова", "Турдубаева", "Абдыкадырова", "Нурланова", "Өмүрова"]
_NAMES_M = ["Азамат", "Бакыт", "Нурлан", "Талант", "Эрлан", "Улан", "Мирлан", "Чыңгыз"]
_NAMES_F = ["Айгүл", "Гүлнара", "Жылдыз", "Нургүл", "Айзада", "Бермет", "Чолпон", "Аида"]
_PATR_M = ["Асанович", "Бакирович", "Маратович", "Токтоналиевич", "Садырович"]
_PATR_F = ["Асановна", "Бакировна", "Маратовна", "Токтоналиевна", "Садыровна"]

_PARTIES = [
    ("Ата-Журт Кыргызстан", "Ата-Журт Кыргызстан", "АЖК"),
    ("Ынтымак", "Ынтымак", "ЫН"),
    ("Мекеним Кыргызстан", "Мекеним Кыргызстан", "МК"),
    ("Биримдик", "Биримдик", "БИР"),
    ("Ыйман Нуру", "Ыйман Нуру", "ЫНР"),
    ("Алга Кыргызстан", "Алга, Кыргызстан!", "АЛГ"),
    ("Социал-демократтар", "Социал-демократы", "СД"),
    ("Реформа", "Реформа", "РЕФ"),
    ("Ата Мекен", "Ата Мекен", "АМ"),
    ("Бутун Кыргызстан", "Бутун Кыргызстан", "БК"),
    ("Ордо", "Ордо", "ОРД"),
    ("Мекенчил", "Мекенчил", "МЧЛ"),
]


def _person(rng: random.Random, sex: str) -> tuple[str, str, str]:
    if sex == "F":
        return rng.choice(_SURNAMES_F), rng.choice(_NAMES_F), rng.choice(_PATR_F)
    return rng.choice(_SURNAMES_M), rng.choice(_NAMES_M), rng.choice(_PATR_M)


def sample_manifest(seed: int = 7, *, station_id: str = "uik-1021",
                    election_id: str = "kg-2026-parl") -> dict:
    rng = random.Random(seed)
    cands = []
    for i in range(7):
        sex = "F" if i % 3 == 1 else "M"
        s, n, p = _person(rng, sex)
        cands.append({"id": f"c-{i + 1:02d}", "surname": s, "name": n, "patronymic": p,
                      "birth_year": rng.randint(1960, 1995), "sex": sex,
                      "lot_order": 0, "withdrawn": i == 4,
                      "registered_at": f"2026-09-{10 + i:02d}T10:00:00Z"})
    order = list(range(1, len(cands) + 1))
    rng.shuffle(order)
    for c, o in zip(cands, order, strict=True):
        c["lot_order"] = o
    parties = []
    porder = list(range(1, len(_PARTIES) + 1))
    rng.shuffle(porder)
    for j, (ky, ru, short) in enumerate(_PARTIES):
        size = 30 if j == 3 else 75          # one list shorter than the 54 boxes
        lst = []
        for n in range(1, size + 1):
            sex = "F" if n % 3 == 0 else "M"
            s, nm, p = _person(rng, sex)
            lst.append({"number": n, "surname": s, "name": nm, "patronymic": p, "sex": sex,
                        "withdrawn": n in (5, 12) and j % 2 == 0})
        parties.append({"id": f"p-{j + 1:02d}", "name": {"ky": ky, "ru": ru}, "short": short,
                        "lot_order": porder[j], "candidates": lst})
    return {
        "package_version": 1,
        "election": {
            "id": election_id,
            "name": {"ky": "Жогорку Кеңешке шайлоо 2026", "ru": "Выборы в Жогорку Кенеш 2026"},
            "voting_day": "2026-11-29", "time_zone": "Asia/Bishkek",
            "polls_open": "08:00", "polls_close": "20:00", "min_age": 18, "community_days": 90,
        },
        "station": {
            "id": station_id, "number": 1021,
            "name": {"ky": "№1021 шайлоо участкасы", "ru": "Избирательный участок №1021"},
            "address": {"ky": "Бишкек ш., Чүй пр., 100", "ru": "г. Бишкек, пр. Чуй, 100"},
            "region": {"code": "BI", "name": {"ky": "Бишкек шаары", "ru": "город Бишкек"}},
            "oik": {"code": "oik-07", "name": {"ky": "№7 округ", "ru": "Округ №7"}},
            "tik": {"code": "tik-bi-1", "name": {"ky": "Ленин району", "ru": "Ленинский район"}},
        },
        "contests": [
            {"id": "district-07", "kind": "candidate",
             "title": {"ky": "№7 көп мандаттуу шайлоо округу",
                       "ru": "Многомандатный избирательный округ №7"},
             "seats": 3, "against_all": True, "territorial": True, "candidates": cands},
            {"id": "party-list", "kind": "party-list",
             "title": {"ky": "Партиялык тизмелер боюнча", "ru": "По партийным спискам"},
             "seats": 54, "against_all": True, "territorial": False,
             "parties": parties, "number_boxes": 54},
        ],
        "ballot_styles": [
            {"id": "bs-district-07", "contests": ["district-07"]},
            {"id": "bs-party-list", "contests": ["party-list"]},
        ],
    }

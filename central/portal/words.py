"""Every word the portal says, in Kyrgyz, Russian and English, in one catalogue.

The portal speaks the state language (Kyrgyz), the official one (Russian) and
English for foreign observers and journalists (DOMAIN.md "Languages"). Every
label of every page comes from ``WORDS`` (``say``), the control relations'
names from ``RELATIONS`` and the reasons a protocol is held from
``reason_text``, which turns the aggregation's reasons (English sentences of
central/aggregate.py) into the reader's language; a reason it does not know is
shown as the aggregation wrote it, never hidden.

Names from the election (Regions, stations, parties) come as ``{"ky", "ru"}``
objects or plain text: ``pick`` shows the reader's language, falling back to
Russian, then Kyrgyz (the package has no English names).

The central side cannot import station/ (pyproject "The central side is a
separate deployable"), so ``Words`` is its own three-language value, and the
relations' names repeat count/protocol_body.py ``RELATION_TEXT`` with English added.

Example::

    say("turnout", "ky")                      # 'Шайлоочулардын катышуусу'
    reason_text("share above 100%: 9000 identified of 2500 on the list", "ru")
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

LANGUAGES = ("ky", "ru", "en")
DEFAULT_LANGUAGE = "ky"      # the state language; a browser asking for ru or en gets it at "/"
LANGUAGE_NAMES = {"ky": "Кыргызча", "ru": "Русский", "en": "English"}


class Words(NamedTuple):
    """A text in Kyrgyz, Russian and English (``str.format`` fields filled in all three at once)."""

    ky: str
    ru: str
    en: str

    def format(self, **fields: object) -> Words:
        return Words(self.ky.format(**fields), self.ru.format(**fields), self.en.format(**fields))

    def of(self, lang: str) -> str:
        return getattr(self, lang) if lang in LANGUAGES else self.ky


WORDS: dict[str, Words] = {
    # the frame
    "portal": Words("Шайлоонун алдын ала жыйынтыктары", "Предварительные итоги выборов",
                    "Preliminary election results"),
    "preliminary-note": Words(
        "Автоматтык үкөктөрдүн алдын ала эсеби; расмий жыйынтык — комиссиялардын кол менен эсеби.",
        "Предварительный машинный подсчёт; официальные итоги — ручной подсчёт комиссий.",
        "Preliminary machine count; the official result is the commissions' manual count."),
    "language": Words("Тил", "Язык", "Language"),
    "national": Words("Бүткүл өлкө боюнча", "По всей стране", "Nationwide"),
    "updated": Words("Жаңыланды", "Обновлено", "Updated"),
    "not-found": Words("Табылган жок", "Не найдено", "Not found"),
    "bad-request": Words("Туура эмес суроо", "Неверный запрос", "Bad request"),
    "back-national": Words("Башкы бетке", "На главную", "To the national page"),
    "page": Words("Бет", "Страница", "Page"),
    "next-page": Words("Кийинки", "Следующая", "Next"),
    "previous-page": Words("Мурунку", "Предыдущая", "Previous"),
    # levels (DOMAIN.md "Reference region hierarchy")
    "region": Words("Аймак", "Регион", "Region"),
    "oik": Words("ОШК", "ОИК", "District commission (ОИК)"),
    "tik": Words("АШК", "ТИК", "Territorial commission (ТИК)"),
    "uik": Words("Шайлоо участогу", "Избирательный участок", "Polling station"),
    "regions": Words("Аймактар", "Регионы", "Regions"),
    "oiks": Words("Округдук шайлоо комиссиялары (ОШК)", "Окружные избирательные комиссии (ОИК)",
                  "District election commissions (ОИК)"),
    "tiks": Words("Аймактык шайлоо комиссиялары (АШК)", "Территориальные избирательные комиссии (ТИК)",
                  "Territorial election commissions (ТИК)"),
    "uiks": Words("Шайлоо участоктору", "Избирательные участки", "Polling stations"),
    "station-no": Words("№ {number} шайлоо участогу", "Избирательный участок № {number}",
                        "Polling station No. {number}"),
    # figures
    "results": Words("Жыйынтыктар", "Итоги", "Results"),
    "contest": Words("Бюллетень", "Бюллетень", "Contest"),
    "option": Words("Талапкер / партия", "Кандидат / партия", "Candidate / party"),
    "votes": Words("Добуштар", "Голоса", "Votes"),
    "share": Words("Үлүшү", "Доля", "Share"),
    "against-all": Words("Баарына каршы", "Против всех", "Against all"),
    "ballots_read": Words("Окулган бюллетендер", "Прочитано бюллетеней", "Ballots read"),
    "ballots_found": Words("Үкөктөн табылган бюллетендер", "Бюллетеней найдено в ящике",
                           "Ballots found in the box"),
    "valid": Words("Жарактуу бюллетендер", "Действительных бюллетеней", "Valid ballots"),
    "invalid": Words("Жараксыз бюллетендер", "Недействительных бюллетеней", "Invalid ballots"),
    "blank": Words("Белгисиз (бош)", "Без отметок (пустых)", "Blank (no mark)"),
    "voters_on_list": Words("Тизмедеги шайлоочулар", "Избирателей в списке", "Voters on the list"),
    "voters_identified": Words("Идентификацияланган шайлоочулар", "Идентифицировано избирателей",
                               "Voters identified"),
    "closed_at": Words("Добуш берүү жабылды", "Голосование закрыто", "Polls closed"),
    "counted-from": Words("{n} текшерилген участоктун протоколу боюнча",
                          "По протоколам {n} проверенных участков",
                          "From the protocols of {n} verified stations"),
    "no-results": Words("Текшерилген протоколдор азырынча жок", "Проверенных протоколов пока нет",
                        "No verified protocols yet"),
    "chart-of": Words("{contest}: добуштардын үлүшү", "{contest}: доли голосов", "{contest}: vote shares"),
    # turnout
    "turnout": Words("Шайлоочулардын катышуусу", "Явка избирателей", "Turnout"),
    "identified": Words("Идентификацияланды", "Идентифицировано", "Identified"),
    "on-list": Words("тизмеде", "в списке", "on the list"),
    "turnout-line": Words("{identified} идентификацияланды, тизмеде {on_list}",
                          "{identified} идентифицировано из {on_list} в списке",
                          "{identified} identified of {on_list} on the list"),
    "turnout-note": Words("Келген идентификация квитанциялары боюнча, бул жердеги бардык участоктордун"
                          " тизмелеринен",
                          "По поступившим квитанциям идентификации, от списков всех участков здесь",
                          "From the identification receipts received, of the lists of every station here"),
    "turnout-by-hour": Words("Саат боюнча катышуу", "Явка по часам", "Turnout by hour"),
    "hour": Words("Саат", "Час", "Hour"),
    "cumulative": Words("Жалпысынан", "Нарастающим итогом", "Cumulative"),
    "local-time": Words("Бишкек убактысы", "время Бишкека", "Bishkek time"),
    "no-turnout": Words("Катышуу тууралуу маалымат азырынча жок", "Данных о явке пока нет",
                        "No turnout data yet"),
    # stations and their status
    "stations": Words("Участоктор", "Участки", "Stations"),
    "registered": Words("Бардыгы", "Всего", "Registered"),
    "reporting": Words("Маалымат жөнөттү", "Передали данные", "Reporting"),
    "verified": Words("Текшерилди", "Проверено", "Verified"),
    "held": Words("Кармалды", "Задержано", "Held"),
    "missing": Words("Маалымат жок", "Нет данных", "Missing"),
    "status": Words("Абалы", "Состояние", "Status"),
    "status-verified": Words("Протокол текшерилди жана жыйынтыкка кошулду",
                             "Протокол проверен и учтён в итогах",
                             "Protocol verified and counted in the totals"),
    "status-held": Words("Протокол кармалды: жыйынтыкка кошулган жок",
                         "Протокол задержан: не учтён в итогах",
                         "Protocol held: left out of the totals"),
    "status-reporting": Words("Маалымат келүүдө, протокол али жок",
                              "Данные поступают, протокола ещё нет",
                              "Data arriving, no protocol yet"),
    "status-missing": Words("Участоктон маалымат келе элек", "От участка данных ещё нет",
                            "Nothing received from this station yet"),
    "reasons": Words("Себептери", "Причины", "Reasons"),
    "held-list": Words("Кармалган протоколдор", "Задержанные протоколы", "Held protocols"),
    "held-list-note": Words(
        "Бул протоколдор текшерүүдөн өткөн жок жана жыйынтыкка кошулган жок; себептери көрсөтүлгөн.",
        "Эти протоколы не прошли проверку и не учтены в итогах; причины указаны.",
        "These protocols failed a check and are left out of the totals; the reasons are shown."),
    "none-held": Words("Кармалган протокол жок", "Задержанных протоколов нет", "No protocol is held"),
    "see-held": Words("Кармалгандардын тизмеси жана себептери", "Список задержанных и причины",
                      "The held list and its reasons"),
    # a station's protocol
    "protocol": Words("Жыйынтыктар протоколу", "Протокол об итогах голосования",
                      "Protocol of voting results"),
    "no-protocol": Words("Протокол али келе элек", "Протокол ещё не поступил", "No protocol has arrived yet"),
    "line": Words("Сап", "Строка", "Line"),
    "machine": Words("Автоматтык эсеп", "Машинный подсчёт", "Machine count"),
    "manual": Words("Кол менен эсеп (расмий)", "Ручной подсчёт (официальный)", "Manual count (official)"),
    "difference": Words("Айырма", "Разница", "Difference"),
    "manual-arrived": Words("Комиссиянын кол менен эсеби келди: {n} сапта айырма бар",
                            "Поступил ручной подсчёт комиссии: расхождения в {n} строках",
                            "The commission's manual count arrived: {n} lines differ"),
    "flag-note": Words("2 бюллетенден жана автоматтык эсептин 1%ынан ашкан айырмалар белгиленди",
                       "Отмечены расхождения больше 2 бюллетеней и больше 1% машинного подсчёта",
                       "Differences of more than 2 ballots and more than 1% of the machine's figure"
                       " are flagged"),
    "flagged": Words("айырма чоң", "большое расхождение", "large difference"),
    "manual-pending": Words("Комиссиянын кол менен эсеби али келе элек",
                            "Ручной подсчёт комиссии ещё не поступил",
                            "The commission's manual count has not arrived yet"),
    "explanation": Words("Комиссиянын түшүндүрмөсү", "Объяснение комиссии", "The commission's explanation"),
    "relations": Words("Контролдук катыштар", "Контрольные соотношения", "Control relations"),
    "hash": Words("Протоколдун хэши (конверттин SHA-256)", "Хэш протокола (SHA-256 конверта)",
                  "Protocol hash (SHA-256 of the envelope)"),
    "device": Words("Түзмөк", "Устройство", "Device"),
    "received-at": Words("Кабыл алынды", "Получен", "Received"),
    "receipts-received": Words("Келген квитанциялар", "Получено квитанций", "Receipts received"),
    "downloads": Words("Жүктөп алуу", "Скачать", "Downloads"),
    "export-json": Words("Байкоочу үчүн файл (JSON, кол тамгалары менен)",
                         "Файл для наблюдателя (JSON, с подписями)",
                         "Observer's file (JSON, with signatures)"),
    "protocol-pdf": Words("Протокол (PDF, A4)", "Протокол (PDF, A4)", "Protocol (PDF, A4)"),
    "verify-offline": Words("Өз компьютериңизде текшерүү: uchastok verify ФАЙЛ --trust provisioning.pub",
                            "Проверка на своём компьютере: uchastok verify ФАЙЛ --trust provisioning.pub",
                            "Check on your own computer: uchastok verify FILE --trust provisioning.pub"),
    # checking in the reader's browser
    "verify": Words("Кол тамганы өзүңүз текшериңиз", "Проверьте подпись сами", "Check the signature yourself"),
    "verify-intro": Words(
        "Браузериңиз протоколдун кол тамгасын жана чынжырын БШКнын ачкычы менен текшерет.",
        "Ваш браузер проверит подпись протокола и цепочку по ключу ЦИК.",
        "Your browser checks the protocol's signature and chain against the CEC's key."),
    "verify-button": Words("Текшерүү", "Проверить", "Check"),
    "verify-running": Words("Текшерилүүдө…", "Проверяется…", "Checking…"),
    "verify-ok": Words("Кол тамга жана чынжыр туура: протокол участоктун түзмөгү кол койгондой",
                       "Подпись и цепочка верны: протокол таков, каким его подписало устройство участка",
                       "Signature and chain check out: the protocol is as the station's device signed it"),
    "verify-bad": Words("ТЕКШЕРҮҮДӨН ӨТКӨН ЖОК", "ПРОВЕРКА НЕ ПРОЙДЕНА", "CHECK FAILED"),
    "verify-other": Words("Текшерилген протоколдун хэши бул беттегиден башка",
                          "Хэш проверенного протокола отличается от показанного на странице",
                          "The checked protocol's hash differs from the one on this page"),
    "verify-unavailable": Words("Текшерүү бул браузерде иштебейт", "Проверка недоступна в этом браузере",
                                "The check is not available in this browser"),
    # revisions
    "revisions": Words("Редакциялар", "Редакции", "Revisions"),
    "revisions-public": Words("Протоколдордун редакциялары", "Редакции протоколов", "Protocol revisions"),
    "revisions-note": Words(
        "Протоколдун ар бир жаңы редакциясы сакталат; бул жерде эмнеси өзгөргөнү көрсөтүлөт.",
        "Каждая новая редакция протокола сохраняется; здесь показано, что в ней изменилось.",
        "Every new revision of a protocol is kept; here is what each one changed."),
    "revision": Words("Редакция", "Редакция", "Revision"),
    "changes": Words("Өзгөрүүлөр", "Изменения", "Changes"),
    "first-revision": Words("биринчи редакция", "первая редакция", "first revision"),
    "no-change": Words("сандар өзгөргөн жок", "цифры не изменились", "no figure changed"),
    "more-changes": Words("жана дагы {n}", "и ещё {n}", "and {n} more"),
    "manual-added": Words("кол менен эсеп кошулду", "добавлен ручной подсчёт", "manual count added"),
    "no-revisions": Words("Оңдолгон протокол жок", "Исправленных протоколов нет", "No protocol was revised"),
    "single-revision": Words("{n} участоктун протоколу бир гана редакцияда",
                             "У {n} участков протокол в одной редакции",
                             "{n} stations have a single revision"),
    # the bulk file and keys
    "all-json": Words("Бардык участоктордун протоколдору (JSON, борбордун кол тамгасы менен, мүнөт сайын)",
                      "Протоколы всех участков (JSON, подписан центром, раз в минуту)",
                      "Every station's protocol (JSON, signed by the centre, each minute)"),
    "keys": Words("Ачкычтар", "Ключи", "Keys"),
    "authority-key": Words("БШКнын (түзмөктөрдүн сертификаттары) ачкычы",
                           "Ключ ЦИК (сертификаты устройств)",
                           "CEC key (device certificates)"),
    "centre-key": Words("Борбордун ачкычы (all.json)", "Ключ центра (all.json)", "Centre key (all.json)"),
    "export-unavailable": Words("Байкоочунун файлы азырынча жеткиликсиз", "Файл наблюдателя пока недоступен",
                                "The observer's file is not available yet"),
    # remote voting (law No. 113 of 9 June 2025; DOMAIN.md "Remote voting")
    "remote-voting": Words("Аралыктан добуш берүү", "Дистанционное голосование", "Remote voting"),
    "remote-line": Words("{sites} аралыктан добуш берүү пунктунда идентификацияланган шайлоочулар: {identified}",
                         "На {sites} пунктах дистанционного голосования идентифицировано избирателей: {identified}",
                         "Voters identified at {sites} remote-voting sites: {identified}"),
    "remote-note": Words("Ар бир округдун бюллетендери ошол округдун жыйынтыгына кошулат; партиялык"
                         " тизмелер пункт турган жерде эсептелет. Шайлоочулар өз участокторунун тизмесинде.",
                         "Бюллетени каждого округа идут в итоги этого округа; партийные списки учитываются"
                         " по месту пункта. Избиратели числятся в списках своих участков.",
                         "Each district's ballots count in that district's results; the party list counts"
                         " where the site stands. The voters are on their own stations' lists."),
    "remote-sites": Words("Аралыктан добуш берүү пункттары", "Пункты дистанционного голосования",
                          "Remote-voting sites"),
    "home-district": Words("Шайлоочунун өз округу", "Округ избирателя", "Voter's home district"),
    "not-on-national-list": Words("Улуттук тизмеде жок", "Нет в национальном списке", "Not on the national list"),
    "remote-in-area": Words("Анын ичинде {n} аралыктан добуш берүү пунктундагы бул округдун бюллетендери",
                            "В том числе бюллетени этого округа с {n} пунктов дистанционного голосования",
                            "Including this district's ballots from {n} remote-voting sites"),
    "remote-site": Words("Аралыктан добуш берүү пункту", "Пункт дистанционного голосования", "Remote-voting site"),
    "site-stands-in": Words("Пункт {district} округунда турат: бул округдун шайлоочулары өз участогунда гана"
                            " добуш берет.",
                            "Пункт находится в округе {district}: избиратели этого округа голосуют только на"
                            " своём участке.",
                            "The site stands in district {district}: that district's voters vote at their own"
                            " station only."),
    "site-note": Words("Ар бир округдун бөлүгү ошол округдун жыйынтыгына кошулат.",
                       "Раздел каждого округа идёт в итоги этого округа.",
                       "Each district's section counts in that district's results."),
    "district": Words("Округ", "Округ", "District"),
    # ballots printed on demand at a site (its identification summary's ``ondemand``: identify/receipts.py)
    "ondemand": Words("Талап боюнча басылган бюллетендер", "Бюллетени, напечатанные по запросу",
                      "Ballots printed on demand"),
    "ballot-style": Words("Бюллетендин түрү", "Вид бюллетеня", "Ballot style"),
    "od-printed": Words("Басылды", "Напечатано", "Printed"),
    "od-issued": Words("Берилди", "Выдано", "Issued"),
    "od-voided": Words("Жокко чыгарылды", "Погашено", "Voided"),
    "od-pending": Words("Чечиле элек", "Не решено", "Pending"),
    "od-check": Words("Текшерүү", "Проверка", "Check"),
    "od-total": Words("Бардыгы", "Всего", "Total"),
    "od-mismatch": Words("дал келбейт", "не сходится", "does not add up"),
    "od-balanced": Words("басылды = берилди + жокко чыгарылды + чечиле элек",
                         "напечатано = выдано + погашено + не решено",
                         "printed = issued + voided + pending"),
    "od-unbalanced": Words("дал келбейт: басылды ≠ берилди + жокко чыгарылды + чечиле элек",
                           "не сходится: напечатано ≠ выдано + погашено + не решено",
                           "does not add up: printed ≠ issued + voided + pending"),
    "od-left-out": Words("Жыйынтыкка {n} пункт кирген жок: алардын талап боюнча басылган бюллетендер бөлүгү бузук",
                         "В итог не вошли пункты ({n}): их раздел о бюллетенях, напечатанных по запросу, повреждён",
                         "The total leaves out {n} sites: their section of ballots printed on demand is malformed"),
    "od-none": Words("Идентификациянын жыйынтыгы келе элек же талап боюнча бюллетень басылган эмес",
                     "Итоги идентификации ещё не поступили, или бюллетени по запросу не печатались",
                     "The identification summary has not arrived yet, or no ballot was printed on demand"),
    "od-note": Words("Пункттун идентификация жыйынтыгынан (добуш берүү жабылгандан кийин): ар бир басылган"
                     " барак же берилет, же жокко чыгарылат (тыгылып калса, шайлоочу алган жок), же али"
                     " чечиле элек.",
                     "Из итогов идентификации пункта (после закрытия голосования): каждый напечатанный лист"
                     " выдан, погашен (замят, избиратель не взял) или ещё не решён.",
                     "From the site's identification summary (after the close of polls): every sheet printed"
                     " is issued, voided (jammed, not taken) or not yet decided."),
    # a protocol's ballots issued on a provisional claim (count/protocol_body.py ``provisional``)
    "provisional-title": Words("Шарттуу берүү", "Выдача по условной заявке", "Provisional issue"),
    "provisional": Words("Шарттуу берилди", "Выдано по условной заявке", "Issued on a provisional claim"),
    "provisional-granted_later": Words("борбор кийин уруксат берди", "центр разрешил позже",
                                       "the centre granted later"),
    "provisional-refused_later": Words("борбор кийин четке какты", "центр отказал позже",
                                       "the centre refused later"),
    "provisional-unanswered": Words("борбордон жооп жок", "без ответа центра", "no answer from the centre"),
    "provisional-note": Words(
        "Борбор менен байланыш жок кезде комиссия мүчөсүнүн PIN-коду менен берилген бюллетендер;"
        " алар идентификацияланган шайлоочулардын санына кирет. Борбордун жооптору кийин келген.",
        "Бюллетени, выданные по PIN-коду члена комиссии, когда связи с центром не было; они входят в число"
        " идентифицированных избирателей. Ответы центра получены позже.",
        "Ballots issued on a commission member's PIN while the centre could not be reached; they are part of"
        " the voters identified. The centre's answers came later."),
}

# The control relations of a protocol (count/protocol_body.py RELATION_TEXT, with English).
RELATIONS: dict[str, Words] = {
    "identified<=voters-on-list": Words("идентификацияланган ≤ тизмедеги", "идентифицировано ≤ в списке",
                                        "identified ≤ on the list"),
    "ballots<=identified": Words("бюллетендер ≤ идентификацияланган", "бюллетеней ≤ идентифицировано",
                                 "ballots ≤ identified"),
    "ballots<=voters-on-list": Words("бюллетендер ≤ тизмедеги", "бюллетеней ≤ в списке",
                                     "ballots ≤ on the list"),
    "statuses=ballots": Words("жарактуу+жараксыз+бош = окулган", "действ.+недейств.+пустые = прочитано",
                              "valid + invalid + blank = read"),
    "valid+invalid=ballots": Words("жарактуу + жараксыз = табылган", "действ. + недейств. = найдено",
                                   "valid + invalid = found"),
    "votes=valid": Words("добуштардын суммасы = жарактуу", "сумма голосов = действительные",
                         "sum of votes = valid"),
    "preferences<=party-votes": Words("артыкчылык ≤ партиянын добушу", "предпочтения ≤ голоса партии",
                                      "preferences ≤ party votes"),
    "provisional<=identified": Words("шарттуу берилген ≤ идентификацияланган",
                                     "выдано по условной заявке ≤ идентифицировано",
                                     "issued provisionally ≤ identified"),
}

# The aggregation's reasons to hold a protocol (central/aggregate.py), in the reader's language.
# Each pattern's named groups fill the text's fields; the first match wins.
REASONS: list[tuple[re.Pattern[str], Words]] = [(re.compile(p), w) for p, w in [
    (r"^share above 100%: (?P<a>\d+) identified of (?P<b>\d+) on the list",
     Words("катышуу 100%дан ашык: тизмедеги {b} шайлоочунун {a} идентификацияланган",
           "явка выше 100%: {a} идентифицировано при {b} в списке",
           "turnout above 100%: {a} identified of {b} on the list")),
    (r"^share above 100% \((?P<a>\d+) of (?P<b>\d+)\)",
     Words("катышуу 100%дан ашык: {b} шайлоочунун {a}", "явка выше 100%: {a} из {b}",
           "turnout above 100%: {a} of {b}")),
    (r"^(?P<c>[^:]+): valid (?P<v>\d+) \+ invalid (?P<i>\d+) \+ blank (?P<b>\d+) != read (?P<r>\d+)",
     Words("{c}: жарактуу {v} + жараксыз {i} + бош {b} окулган {r} менен дал келбейт",
           "{c}: действительных {v} + недействительных {i} + пустых {b} ≠ прочитано {r}",
           "{c}: valid {v} + invalid {i} + blank {b} ≠ read {r}")),
    (r"^(?P<c>[^:]+): votes add up to (?P<s>\d+), valid ballots (?P<v>\d+)",
     Words("{c}: добуштардын суммасы {s}, жарактуу бюллетендер {v}",
           "{c}: сумма голосов {s}, действительных бюллетеней {v}",
           "{c}: votes add up to {s}, valid ballots {v}")),
    (r"^(?P<c>[^:]+): (?P<r>\d+) ballots but (?P<i>\d+) identified voters",
     Words("{c}: {r} бюллетень, бирок {i} гана шайлоочу идентификацияланган",
           "{c}: {r} бюллетеней, но идентифицировано только {i} избирателей",
           "{c}: {r} ballots but {i} identified voters")),
    (r"^(?P<c>[^:]+): no identified-voter count to check (?P<r>\d+) ballots against",
     Words("{c}: {r} бюллетенди салыштыра турган идентификацияланган шайлоочулардын саны жок",
           "{c}: нет числа идентифицированных избирателей для проверки {r} бюллетеней",
           "{c}: no identified-voter count to check {r} ballots against")),
    (r"^(?P<c>[^:]+): counts are not non-negative integers",
     Words("{c}: сандар терс эмес бүтүн сан эмес", "{c}: числа не являются целыми неотрицательными",
           "{c}: counts are not non-negative integers")),
    (r"^voters_identified is not a count",
     Words("идентификацияланган шайлоочулардын саны сан эмес",
           "число идентифицированных избирателей не является числом",
           "the number of identified voters is not a count")),
    (r"^(?P<a>\d+) identified in the protocol but (?P<b>\d+) receipts received \(tolerance (?P<t>\d+)\)",
     Words("протоколдо {a} шайлоочу идентификацияланган, бирок {b} квитанция келди (чеги {t}):"
           " квитанциялар али жолдо, же сан квитанциялар менен бекемделген эмес",
           "в протоколе {a} идентифицированных, а получено {b} квитанций (допуск {t}):"
           " квитанции ещё в пути, или цифра не подтверждена квитанциями",
           "{a} identified in the protocol but {b} receipts received (tolerance {t}):"
           " receipts still on their way, or a figure not backed by receipts")),
    (r"^voters on the list (?P<a>\d+) in the protocol, (?P<b>\d+) registered",
     Words("протоколдо тизмеде {a} шайлоочу, ал эми участок үчүн {b} катталган",
           "в протоколе {a} избирателей в списке, а для участка зарегистрировано {b}",
           "voters on the list {a} in the protocol, {b} registered for this station")),
    (r"^voters_on_list is not a count",
     Words("тизмедеги шайлоочулардын саны сан эмес", "число избирателей в списке не является числом",
           "the number of voters on the list is not a count")),
    (r"^closed at (?P<t>\S+), outside the election's window \((?P<d>\S+)",
     Words("добуш берүү {t} жабылган: шайлоо күнүнөн тышкары ({d} жана кийинки күн)",
           "голосование закрыто {t}: вне дня выборов ({d} и следующий день)",
           "polls closed {t}: outside the election's window ({d} and the day after)")),
    (r"^closed at (?P<t>\S+), outside the device certificate's validity \((?P<a>\S+) \.\. (?P<b>\S+)\)",
     Words("добуш берүү {t} жабылган: түзмөктүн сертификатынын мөөнөтүнөн тышкары ({a} … {b})",
           "голосование закрыто {t}: вне срока действия сертификата устройства ({a} … {b})",
           "polls closed {t}: outside the device certificate's validity ({a} … {b})")),
    (r"^closed_at (?P<v>.*) is not a time",
     Words("жабылуу убактысы {v} убакыт эмес", "время закрытия {v} не является временем",
           "closed_at {v} is not a time")),
    (r"^control relation (?P<rel>\S+) fails in the protocol",
     Words("протоколдо «{rel}» контролдук катышы аткарылган жок",
           "в протоколе не выполнено контрольное соотношение «{rel}»",
           "the protocol says its control relation “{rel}” fails")),
    (r"^manual count section malformed",
     Words("кол менен эсептин бөлүгү бузук", "раздел ручного подсчёта повреждён",
           "the manual count section is malformed")),
    (r"^manual count: a line is not a non-negative count",
     Words("кол менен эсеп: бир сап терс эмес сан эмес", "ручной подсчёт: строка не является неотрицательным числом",
           "manual count: a line is not a non-negative count")),
    (r"^manual count: relation (?P<rels>.+) fails with no explanation",
     Words("кол менен эсеп: {rels} катышы аткарылган жок жана түшүндүрмө жок",
           "ручной подсчёт: не выполнено соотношение {rels}, а объяснения нет",
           "manual count: relation {rels} fails with no explanation")),
    (r"^provisional section malformed",
     Words("шарттуу берилген бюллетендердин бөлүгү бузук", "раздел о выданных по условной заявке повреждён",
           "the section of ballots issued on a provisional claim is malformed")),
    (r"^provisional: the centre's answers do not add up to the (?P<n>\d+) issued",
     Words("шарттуу берилди {n}, бирок борбордун жоопторунун суммасы башка",
           "выдано по условной заявке {n}, а ответы центра в сумме дают другое число",
           "{n} issued on a provisional claim, but the centre's answers do not add up to them")),
    (r"^provisional: (?P<n>\d+) issued but (?P<i>\d+) identified",
     Words("шарттуу берилди {n}, бирок {i} гана шайлоочу идентификацияланган",
           "выдано по условной заявке {n}, а идентифицировано только {i}",
           "{n} issued on a provisional claim but {i} voters identified")),
    (r"^ondemand section malformed",
     Words("талап боюнча басылган бюллетендердин бөлүгү бузук",
           "раздел о бюллетенях, напечатанных по запросу, повреждён",
           "the section of ballots printed on demand is malformed")),
    (r"^ondemand counters of (?P<s>.+) are not counts",
     Words("талап боюнча басылган бюллетендер: {s} түрүнүн сандары бузук",
           "бюллетени, напечатанные по запросу: счётчики вида {s} не являются числами",
           "ballots printed on demand: the counters of style {s} are not counts")),
    (r"^no contests", Words("протоколдо бюллетень жок", "в протоколе нет бюллетеней",
                            "the protocol holds no contest")),
    (r"^contest entry malformed", Words("бюллетендин жазуусу бузук", "запись бюллетеня повреждена",
                                        "a contest entry is malformed")),
    (r"^(?P<c>[^:]+): district (?P<d>\S+) is not a registered ОИК",
     Words("{c}: {d} округу катталган ОШКлардын арасында жок", "{c}: округа {d} нет среди зарегистрированных ОИК",
           "{c}: district {d} is not a registered ОИК")),
    (r"^(?P<c>[^:]+): a remote site's section names no district",
     Words("{c}: аралыктан добуш берүү пунктунун бөлүгүндө округ көрсөтүлгөн эмес",
           "{c}: в разделе пункта дистанционного голосования не указан округ",
           "{c}: a remote site's section names no district")),
    (r"^station is not on the station list",
     Words("участок катталган участоктордун тизмесинде жок", "участка нет в списке зарегистрированных",
           "the station is not on the registered station list")),
    (r"^count stream has gaps before the protocol",
     Words("протоколго чейин түзмөктүн жазууларынын айрымдары келе элек",
           "до протокола не хватает записей устройства (разрыв цепочки)",
           "records of the device before the protocol are missing (a gap in the chain)")),
]]


def say(key: str, lang: str, **fields: object) -> str:
    """The word ``key`` in ``lang``, its ``str.format`` fields filled."""
    w = WORDS[key]
    return (w.format(**fields) if fields else w).of(lang)


def pick(value: Any, lang: str) -> str:
    """One language of a name: a ``Words``, a ``{"ky", "ru"[, "en"]}`` object, or plain text as it is."""
    if isinstance(value, Words):
        return value.of(lang)
    if isinstance(value, dict):
        for k in (lang, "ru", "ky"):
            if isinstance(value.get(k), str):
                return value[k]
        return ""
    return "" if value is None else str(value)


def reason_text(reason: Any, lang: str, title=None) -> str:
    """A reason to hold a protocol in ``lang``; one the catalogue does not know, as written.

    ``title(contest id)`` names a contest the reason speaks of (the package's title).
    """
    if isinstance(reason, dict):       # {"code", "text"} if the aggregation gives codes
        reason = reason.get("text") or reason.get("code") or ""
    text = str(reason)
    for pattern, words in REASONS:
        m = pattern.match(text)
        if m:
            fields = m.groupdict()
            if title is not None and fields.get("c"):
                fields["c"] = title(fields["c"])
            if fields.get("rel"):
                fields["rel"] = relation_text(fields["rel"], lang)
            return words.of(lang).format(**fields)
    return text


def relation_text(code: str, lang: str) -> str:
    w = RELATIONS.get(code)
    return w.of(lang) if w is not None else code

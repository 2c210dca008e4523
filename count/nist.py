"""The results protocol as a NIST SP 1500-100 v2 ``ElectionReport`` (pure: a body in, a dict out).

count/protocol.py writes it beside the signed protocol (``export_protocol``);
observers and the CEC read it with the standard's tools.

Example::

    report = nist_results(election, signed.body, protocol_hash_hex=signed.hash)
    report["GpUnit"][-1]["VotersRegistered"]      # the station's voters on the list
"""

from __future__ import annotations

from typing import Any

from station.election import Election

NIST_VENDOR = "Uchastok 0.1.0"


def _itext(ky: str, ru: str | None = None) -> dict[str, Any]:
    texts = [{"@type": "ElectionResults.LanguageString", "Content": ky, "Language": "ky"}]
    if ru is not None:
        texts.append({"@type": "ElectionResults.LanguageString", "Content": ru, "Language": "ru"})
    return {"@type": "ElectionResults.InternationalizedText", "Text": texts}


def _counts(n: int, gpu: str) -> list[dict[str, Any]]:
    return [{"@type": "ElectionResults.VoteCounts", "Count": n, "GpUnitId": gpu, "Type": "total"}]


def nist_results(election: Election, body: dict[str, Any], *, protocol_hash_hex: str | None = None,
                 envelope_hash_hex: str | None = None) -> dict[str, Any]:
    """The protocol as a NIST SP 1500-100 v2 ``ElectionReport`` (pure).

    Structure: ``ElectionReport`` → ``GpUnit`` (country → region → ОИК → ТИК →
    station, ``ReportingUnit``; the station is a ``polling-place`` with
    ``VotersRegistered`` / ``VotersParticipated``), ``Party``, ``Election`` →
    ``Candidate`` and ``Contest`` (``CandidateContest`` / ``PartyContest``) →
    ``BallotSelection`` with ``VoteCounts`` (type ``total``, at the station).

    Simplified (the CDF has no words for these):
    - "against all" is a pseudo-candidate / pseudo-party ``against-all--<contest>``
      flagged by an ``ExternalIdentifier`` (Type ``other``, OtherType ``against-all``);
    - preference votes are one extra ``CandidateContest`` per party
      (``<contest>--pref--<party>``) whose selections are the list candidates;
    - ``SummaryCounts``: ``BallotsCast`` = ballots read, ``Undervotes`` = blank,
      ``Overvotes`` = invalid (every invalid reason, not only overvotes),
      ``BallotsRejected`` left out (returned sheets never entered the box);
    - the region hierarchy uses ``Type`` ``other`` with ``OtherType`` (region, oik, tik);
    - no ``Office``, ``Person``, ``BallotStyle``; one GpUnit level of results (the station).
    """
    st = election.station
    country, region, oik, tik = "gpu-kg", f"gpu-region-{st.region.code}", f"gpu-{st.oik.code}", f"gpu-{st.tik.code}"
    station = f"gpu-{st.id}"

    def unit(gid: str, name, typ: str, parts: list[str], other: str | None = None) -> dict[str, Any]:
        u = {"@type": "ElectionResults.ReportingUnit", "@id": gid, "Name": name, "Type": typ,
             "ComposingGpUnitIds": parts}
        if other:
            u["OtherType"] = other
        return u

    station_unit = unit(station, f"{st.name.ru} / {st.name.ky}", "polling-place", [])
    station_unit["Number"] = str(st.number)
    station_unit["VotersRegistered"] = body["voters_on_list"]
    if body["voters_identified"] is not None:
        station_unit["VotersParticipated"] = body["voters_identified"]
    gp_units = [
        unit(country, "Кыргыз Республикасы / Кыргызская Республика", "country", [region]),
        unit(region, f"{st.region.name.ky} / {st.region.name.ru}", "other", [oik], "region"),
        unit(oik, f"{st.oik.name.ky} / {st.oik.name.ru}", "other", [tik], "oik"),
        unit(tik, f"{st.tik.name.ky} / {st.tik.name.ru}", "other", [station], "tik"),
        station_unit,
    ]
    against = [{"@type": "ElectionResults.ExternalIdentifier", "Type": "other", "OtherType": "against-all",
                "Value": "against-all"}]
    parties: list[dict[str, Any]] = []
    candidates: list[dict[str, Any]] = []
    contests: list[dict[str, Any]] = []
    for seq, c in enumerate(body["contests"], 1):
        contest = election.contest(c["contest"])
        district = oik if contest.territorial else country
        if contest.territorial and c.get("district") and c["district"] != st.oik.code:
            # A remote-voting site's section of another district: that district is its electoral district.
            district = f"gpu-{c['district']}"
            if not any(u["@id"] == district for u in gp_units):
                gp_units.append(unit(district, c["district"], "other", [], "oik"))
        summary = [{"@type": "ElectionResults.SummaryCounts", "Type": "total", "GpUnitId": station,
                    "BallotsCast": c["ballots_read"], "Undervotes": c["blank"], "Overvotes": c["invalid"]}]
        selections = []
        aa_id = f"against-all--{contest.id}"
        if contest.kind == "candidate":
            for order, cand in enumerate(contest.candidates, 1):
                cid = f"cand-{contest.id}-{cand.id}"
                candidates.append({"@type": "ElectionResults.Candidate", "@id": cid,
                                   "BallotName": _itext(f"{cand.full_name}, {cand.birth_year}"),
                                   **({"PreElectionStatus": "withdrawn"} if cand.withdrawn else {})})
                selections.append({"@type": "ElectionResults.CandidateSelection", "@id": f"sel-{cid}",
                                   "CandidateIds": [cid], "SequenceOrder": order,
                                   "VoteCounts": _counts(c["votes"].get(cand.id, 0), station)})
            if contest.against_all:
                candidates.append({"@type": "ElectionResults.Candidate", "@id": aa_id,
                                   "BallotName": _itext("Баарына каршы", "Против всех"),
                                   "ExternalIdentifier": against})
                selections.append({"@type": "ElectionResults.CandidateSelection", "@id": f"sel-{aa_id}",
                                   "CandidateIds": [aa_id], "SequenceOrder": len(selections) + 1,
                                   "VoteCounts": _counts(c["votes"].get("against-all", 0), station)})
            contests.append({"@type": "ElectionResults.CandidateContest", "@id": contest.id,
                             "Name": f"{contest.title.ru} / {contest.title.ky}",
                             "ElectoralDistrictId": district, "VotesAllowed": 1,
                             "NumberElected": contest.seats, "VoteVariation": "plurality",
                             "SequenceOrder": seq, "SummaryCounts": summary, "BallotSelection": selections})
            continue
        for order, p in enumerate(contest.parties, 1):
            parties.append({"@type": "ElectionResults.Party", "@id": f"party-{p.id}",
                            "Name": _itext(p.name.ky, p.name.ru), "Abbreviation": p.short})
            selections.append({"@type": "ElectionResults.PartySelection", "@id": f"sel-{contest.id}-{p.id}",
                               "PartyIds": [f"party-{p.id}"], "SequenceOrder": order,
                               "VoteCounts": _counts(c["votes"].get(p.id, 0), station)})
        if contest.against_all:
            parties.append({"@type": "ElectionResults.Party", "@id": aa_id,
                            "Name": _itext("Баарына каршы", "Против всех"), "ExternalIdentifier": against})
            selections.append({"@type": "ElectionResults.PartySelection", "@id": f"sel-{aa_id}",
                               "PartyIds": [aa_id], "SequenceOrder": len(selections) + 1,
                               "VoteCounts": _counts(c["votes"].get("against-all", 0), station)})
        contests.append({"@type": "ElectionResults.PartyContest", "@id": contest.id,
                         "Name": f"{contest.title.ru} / {contest.title.ky}", "ElectoralDistrictId": district,
                         "VoteVariation": "proportional", "SequenceOrder": seq, "SummaryCounts": summary,
                         "BallotSelection": selections})
        for p in contest.parties:
            prefs = c["preferences"].get(p.id, {})
            sels = []
            for lc in p.candidates:
                if str(lc.number) not in prefs:
                    continue
                cid = f"cand-{contest.id}-{p.id}-{lc.number}"
                candidates.append({"@type": "ElectionResults.Candidate", "@id": cid,
                                   "BallotName": _itext(f"№{lc.number} {lc.full_name}"),
                                   "PartyId": f"party-{p.id}"})
                sels.append({"@type": "ElectionResults.CandidateSelection", "@id": f"sel-{cid}",
                             "CandidateIds": [cid], "SequenceOrder": lc.number,
                             "VoteCounts": _counts(prefs[str(lc.number)], station)})
            contests.append({"@type": "ElectionResults.CandidateContest",
                             "@id": f"{contest.id}--pref--{p.id}",
                             "Name": f"{contest.title.ru}: {p.short}, голоса по номерам списка",
                             "ElectoralDistrictId": district, "VotesAllowed": 1,
                             "VoteVariation": "other", "OtherVoteVariation": "open-list-preference",
                             "BallotSelection": sels})
    report = {
        "@type": "ElectionResults.ElectionReport",
        "Format": "precinct-level",
        "GeneratedDate": body["closed_at"],
        "Issuer": f"{st.name.ru} ({st.id})",
        "IssuerAbbreviation": st.id,
        "IsTest": bool(body["test_mode"]),
        "SequenceStart": 1, "SequenceEnd": 1,
        "Status": "unofficial-complete",
        "VendorApplicationId": NIST_VENDOR,
        "GpUnit": gp_units,
        "Party": parties,
        "Election": [{
            "@type": "ElectionResults.Election",
            "ElectionScopeId": country,
            "Name": _itext(election.name.ky, election.name.ru),
            "StartDate": election.voting_day.isoformat(), "EndDate": election.voting_day.isoformat(),
            "Type": "general",
            "ExternalIdentifier": [{"@type": "ElectionResults.ExternalIdentifier", "Type": "national-level",
                                    "Value": election.id}],
            "Candidate": candidates,
            "Contest": contests,
        }],
    }
    if protocol_hash_hex or envelope_hash_hex:
        # The protocol hash observers match is the envelope hash (docs/protocol.md); the body's
        # SHA-256 is said beside it under its own name.
        report["Notes"] = ("Preliminary results of the station's automatic count; "
                           + (f"protocol hash (envelope) {envelope_hash_hex}; " if envelope_hash_hex else "")
                           + (f"body sha256 {protocol_hash_hex}" if protocol_hash_hex else "")).rstrip("; ")
    return report

#!/usr/bin/env python3
"""Checks a Union Ledger export (union-ledger audit export) with Python's standard library alone.

    python3 check_export.py EXPORT_DIR [--balances]

1. every file's SHA-256 against manifest.json (as 'sha256sum -c SHA256SUMS' does);
2. every event's digest, recomputed from its content (RFC 8785 canonical JSON), and every hash
   chain link, from the stored hash of the stream's previous event;
3. double entry: every posting a positive integer amount of a known asset between two accounts,
   no member, budget, wallet or voucher account ever negative, each asset's balances summing to
   zero; --balances prints every account's balance at the export's end;
4. the seal (seal.ndjson): its heads give its root, and the events up to its position give the
   same heads; the recorded seals (seals.ndjson) chain, each naming the root before it.

Exit 0 when everything holds, 1 when anything does not (each problem printed), 2 on bad usage.
"""
import hashlib
import json
import math
import os
import sys

GENESIS = bytes(32)
# Accounts that never go below zero (a member's points, a union's budget, wallets, vouchers).
NON_NEGATIVE = ("member:", "budget:", "wallet:", "voucher:")


def es_number(x):
    """A double as ECMAScript's Number::toString writes it, which is what RFC 8785 prescribes."""
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise TypeError("not a number")
    x = float(x)  # every JSON number is a double; big integers from PostgreSQL too
    if math.isnan(x) or math.isinf(x):
        raise ValueError("no JSON form for a non-finite number")
    if x == 0:
        return "0"  # -0 too
    sign = "-" if x < 0 else ""
    mantissa, _, exponent = repr(abs(x)).partition("e")
    exponent = int(exponent) if exponent else 0
    whole, _, fraction = mantissa.partition(".")
    if fraction == "0":
        fraction = ""
    if whole != "0":
        n = len(whole) + exponent  # value = 0.DIGITS * 10**n
        digits = (whole + fraction).rstrip("0")
    else:
        stripped = fraction.lstrip("0")
        n = exponent - (len(fraction) - len(stripped))
        digits = stripped.rstrip("0")
    k = len(digits)
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * (-n) + digits
    e = n - 1
    head = digits[0] + ("." + digits[1:] if k > 1 else "")
    return sign + head + "e" + ("+" if e >= 0 else "-") + str(abs(e))


def canonical(value):
    """RFC 8785: keys sorted by UTF-16 code units, no whitespace, ECMAScript numbers and strings."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, (int, float)):
        return es_number(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ",".join(canonical(item) for item in value) + "]"
    if isinstance(value, dict):
        keys = sorted(value, key=lambda key: key.encode("utf-16-be"))
        return "{" + ",".join(json.dumps(key, ensure_ascii=False) + ":" + canonical(value[key]) for key in keys) + "}"
    raise TypeError("no JSON form for %r" % (value,))


def parse(line):
    # Every number as a double: PostgreSQL writes 1e21 as 22 digits, which must read as 1e21.
    return json.loads(line, parse_int=float)


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def merkle_root(heads):
    level = [hashlib.sha256(b"\x00" + json.dumps([s, r, h], ensure_ascii=False, separators=(",", ":")).encode("utf-8")).digest() for s, r, h in heads]
    if not level:
        return hashlib.sha256(b"").hexdigest()
    while len(level) > 1:
        level = [hashlib.sha256(b"\x01" + level[i] + level[i + 1]).digest() if i + 1 < len(level) else level[i] for i in range(0, len(level), 2)]
    return level[0].hex()


def main(directory):
    problems = []
    manifest = json.load(open(os.path.join(directory, "manifest.json"), encoding="utf-8"))
    for entry in manifest["files"]:
        if sha256_file(os.path.join(directory, entry["name"])) != entry["sha256"]:
            problems.append("file %s does not match its SHA-256 in manifest.json" % entry["name"])

    whole = manifest["range"]["from"] is None
    heads = {}  # stream -> (revision, hash hex)
    balances = {}  # (account, asset) -> integer balance
    seal_heads = None
    seal = None
    if os.path.exists(os.path.join(directory, "seal.ndjson")):
        with open(os.path.join(directory, "seal.ndjson"), encoding="utf-8") as handle:
            seal = json.loads(handle.readline())["seal"]
            sealed = [json.loads(line) for line in handle if line.strip()]
        if merkle_root([(h["stream"], h["revision"], h["hash"]) for h in sealed]) != seal["root"]:
            problems.append("seal.ndjson: its heads do not give its root")
    events = 0
    mid_stream = 0
    with open(os.path.join(directory, "events.ndjson"), encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            event = parse(line)
            events += 1
            content = canonical({
                "data": event["data"], "eventId": event["eventId"], "metadata": event["metadata"],
                "schemaVersion": event["schemaVersion"], "streamId": event["streamId"], "type": event["type"],
            })
            digest = hashlib.sha256(content.encode("utf-8")).digest()
            where = "%s revision %d (line %d)" % (event["streamId"], int(event["revision"]), number)
            if digest.hex() != event["contentDigest"]:
                problems.append("%s: content does not give its digest" % where)
            revision = int(event["revision"])
            previous = heads.get(event["streamId"])
            if previous is None and revision > 0:
                mid_stream += 1  # a partial export: the link before it is outside the export
            elif previous is not None and previous[0] != revision - 1:
                problems.append("%s: the stream's previous event in the export is revision %d" % (where, previous[0]))
            else:
                prev_hash = bytes.fromhex(previous[1]) if previous else GENESIS
                link = hashlib.sha256(prev_hash + revision.to_bytes(8, "big", signed=True)
                                      + int(event["recordedAtMs"]).to_bytes(8, "big", signed=True) + bytes.fromhex(event["contentDigest"])).hexdigest()
                if link != event["hash"]:
                    problems.append("%s: hash chain broken" % where)
            heads[event["streamId"]] = (revision, event["hash"])
            postings = event["data"].get("postings")
            if "postings" in event["data"] and not isinstance(postings, list):
                problems.append("%s: postings are not a list" % where)
            for posting in postings if isinstance(postings, list) else []:
                asset = "POINTS" if event["schemaVersion"] < 2 else posting.get("asset")
                amount = posting.get("points" if event["schemaVersion"] < 2 else "amount")
                debit, credit = posting.get("debit"), posting.get("credit")
                if not isinstance(amount, float) or amount <= 0 or amount != int(amount) or asset not in ("POINTS", "CNY_FEN") \
                        or not debit or not credit or debit == credit:
                    problems.append("%s: malformed posting %s" % (where, json.dumps(posting, ensure_ascii=False)))
                    continue
                for account, delta in ((debit, -int(amount)), (credit, int(amount))):
                    key = (account, asset)
                    balances[key] = balances.get(key, 0) + delta
                    # A partial export starts from balances it does not hold: only a whole one can say.
                    if balances[key] < 0 and account.startswith(NON_NEGATIVE) and whole:
                        problems.append("%s: account %s (%s) goes negative: %d" % (where, account, asset, balances[key]))
            if seal is not None and event["globalPosition"] == seal["position"]:
                seal_heads = sorted(heads.items(), key=lambda item: item[0].encode("utf-8"))
    if seal is not None and whole:
        if seal_heads is None:
            problems.append("the seal's position %s is not in the export" % seal["position"])
        elif merkle_root([(s, r, h) for s, (r, h) in seal_heads]) != seal["root"]:
            problems.append("the events up to the seal's position do not give its root")
    if os.path.exists(os.path.join(directory, "seals.ndjson")):
        previous_root = None
        with open(os.path.join(directory, "seals.ndjson"), encoding="utf-8") as handle:
            for line in handle:
                recorded = json.loads(line)
                if recorded["previousRoot"] != previous_root:
                    problems.append("seal #%d does not name the root of the seal before it" % recorded["sealNumber"])
                previous_root = recorded["root"]
    if events != manifest["events"]:
        problems.append("events.ndjson holds %d events, the manifest says %d" % (events, manifest["events"]))
    per_asset = {}
    for (account, asset), balance in balances.items():
        per_asset[asset] = per_asset.get(asset, 0) + balance
    for asset, total in per_asset.items():
        if total != 0:
            problems.append("trial balance of %s is %d, not 0" % (asset, total))
    for problem in problems:
        print("PROBLEM: " + problem)
    print("%s: %d events, %d streams%s; trial balance %s over %d accounts" % (
        "OK" if not problems else "NOT OK", events, len(heads),
        "" if not mid_stream else " (%d start mid-stream: their first link is outside the export)" % mid_stream,
        ", ".join("%s %d" % item for item in sorted(per_asset.items())) or "no postings", len(balances)))
    if "--balances" in sys.argv:
        for (account, asset), balance in sorted(balances.items()):
            print("%s\t%s\t%d" % (account, asset, balance))
    return 0 if not problems else 1


if __name__ == "__main__":
    arguments = [argument for argument in sys.argv[1:] if argument != "--balances"]
    if len(arguments) != 1:
        print(__doc__)
        sys.exit(2)
    sys.exit(main(arguments[0]))

#!/usr/bin/env python3
"""Recomputes a Union Ledger lottery's winners from what the API publishes (docs/CLAIMS.md).

usage: recompute-lottery.py lottery.json entries.json [more-entries.json ...]
  lottery.json: the answer of GET /v1/lotteries/<id> after the draw (seed, commitment, prizes, winners)
  entries.json: the pages of GET /v1/lotteries/<id>/entries (500 entries a page: pass every page)
Prints whether the recomputed winners equal the published ones, and the winners. Standard library only.
"""
import hashlib
import hmac
import json
import sys

lottery = json.load(open(sys.argv[1]))
entries = [entry for page in sys.argv[2:] for entry in json.load(open(page))["entries"]]
seed = bytes.fromhex(lottery["seed"])
assert hashlib.sha256(seed).hexdigest() == lottery["commitment"], "the seed is not the one committed to"
order = sorted(entry["memberId"] for entry in entries if not entry["late"])
winners = min(lottery["prizes"], len(order))
for i in range(winners):
    n, attempt = len(order) - i, 0
    while True:
        r = int.from_bytes(hmac.new(seed, f"{i}:{attempt}".encode(), hashlib.sha256).digest()[:4], "big")
        if r < 2**32 - 2**32 % n:  # rejection sampling: no modulo bias
            break
        attempt += 1
    j = i + r % n
    order[i], order[j] = order[j], order[i]
print(order[:winners] == lottery["winners"], order[:winners])

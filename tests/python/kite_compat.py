#!/usr/bin/env python3
"""Proof of the simulator's fidelity: the official Python client, kiteconnect 5.2.2, against it.

Logs in the unattended way (requests + a TOTP computed here), then uses only the official
client: KiteConnect(root=...) for the session, profile, instruments and ltp, and
KiteTicker(root=...) for `seconds` of full-mode ticks. Prints one JSON summary on stdout and
exits 0; any failure raises (exit 1).

usage: kite_compat.py ROOT_URL WS_URL SECONDS TOKEN [TOKEN ...]
"""
import base64
import hashlib
import hmac
import json
import os
import struct
import sys
import threading
import time
from urllib.parse import parse_qs, urlparse

import requests
from kiteconnect import KiteConnect, KiteTicker

API_KEY, API_SECRET = "sim_api_key", "sim_api_secret"
USER_ID, PASSWORD = "SIM001", "sim-password"
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def totp(secret, now=None):
    key = base64.b32decode(secret)
    counter = int((now or time.time()) // 30)
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    code = (struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF) % 1_000_000
    return f"{code:06d}"


def request_token(root):
    s = requests.Session()
    r = s.get(f"{root}/connect/login", params={"v": 3, "api_key": API_KEY}, allow_redirects=False)
    assert r.status_code == 302, r.status_code
    sess_id = parse_qs(urlparse(r.headers["Location"]).query)["sess_id"][0]
    r = s.post(f"{root}/api/login", data={"user_id": USER_ID, "password": PASSWORD})
    r.raise_for_status()
    request_id = r.json()["data"]["request_id"]
    r = s.post(f"{root}/api/twofa", data={"user_id": USER_ID, "request_id": request_id,
                                          "twofa_value": totp(TOTP_SECRET), "twofa_type": "totp"})
    r.raise_for_status()
    assert "enctoken" in s.cookies, s.cookies
    r = s.get(f"{root}/connect/finish", params={"v": 3, "api_key": API_KEY, "sess_id": sess_id},
              allow_redirects=False)
    assert r.status_code == 302, r.status_code
    return parse_qs(urlparse(r.headers["Location"]).query)["request_token"][0]


def main():
    root, ws_root, seconds, tokens = sys.argv[1], sys.argv[2], float(sys.argv[3]), [int(t) for t in sys.argv[4:]]
    kite = KiteConnect(api_key=API_KEY, root=root)
    session = kite.generate_session(request_token(root), api_secret=API_SECRET)
    kite.set_access_token(session["access_token"])
    profile = kite.profile()
    instruments = kite.instruments()
    nse = kite.instruments("NSE")
    ltp = kite.ltp(["NSE:NIFTY 50"])

    ticks, errors, connected = [], [], threading.Event()
    kws = KiteTicker(API_KEY, session["access_token"], root=ws_root)

    def on_connect(ws, response):
        ws.subscribe(tokens)
        ws.set_mode(ws.MODE_FULL, tokens)
        connected.set()

    kws.on_connect = on_connect
    kws.on_ticks = lambda ws, batch: ticks.extend(batch)
    kws.on_error = lambda ws, code, reason: errors.append(f"{code}: {reason}")
    kws.connect(threaded=True)
    if not connected.wait(15):
        raise SystemExit(f"ticker did not connect: {errors}")
    time.sleep(seconds)
    kws.close()

    full = [t for t in ticks if t["mode"] == "full"]
    tradable = [t for t in full if t["tradable"]]
    summary = {
        "user_id": profile["user_id"],
        "login_time": str(session["login_time"]),
        "instruments": len(instruments),
        "instruments_nse": len(nse),
        "nifty_ltp": ltp["NSE:NIFTY 50"]["last_price"],
        "ticks": len(ticks),
        "full_ticks": len(full),
        "tokens_seen": sorted({t["instrument_token"] for t in ticks}),
        "index_full_ticks": len(full) - len(tradable),
        "full_fields": sorted(tradable[-1].keys()) if tradable else [],
        "depth_levels": len(tradable[-1]["depth"]["buy"]) if tradable else 0,
        "errors": errors,
    }
    print(json.dumps(summary), flush=True)
    os._exit(0)


if __name__ == "__main__":
    main()

"""openleadr-python as a VTN for an erab VEN (interop check, see the README developer section).

usage: /usr/bin/python3 openleadr_vtn.py OPENLEADR_DIR PORT CERT KEY CA VEN_ID VEN_FINGERPRINT [signed]
Serves on 127.0.0.1:PORT with mutual TLS (client certificates from CA), admits only VEN_ID with
VEN_FINGERPRINT, offers one event once the VEN registered, requests every report it registers.
Without "signed": XML signatures off, with ./shim standing in for signxml. With "signed": the real
signxml (which must be importable, e.g. on PYTHONPATH); openleadr signs every reply with CERT/KEY
and verifies the signature of every payload naming a venID (refusing it with 403 otherwise).
Prints REGISTERED, OPT <optType>, REPORT <rID> <value>, RECEIVED signed|unsigned and
RESPONDED signed|unsigned lines.
"""
import asyncio
import os
import sys
from datetime import datetime, timedelta, timezone
from functools import partial

here = os.path.dirname(os.path.abspath(__file__))
signed = len(sys.argv) > 8 and sys.argv[8] == "signed"
if not signed:
    sys.path.insert(0, os.path.join(here, "shim"))
sys.path.insert(0, sys.argv[1])

import signxml  # noqa: E402
from openleadr import OpenADRServer, hooks  # noqa: E402

port, cert, key, ca, ven_id, fingerprint = int(sys.argv[2]), *sys.argv[3:8]
print("SIGNXML", os.path.dirname(signxml.__file__), flush=True)


def ven_lookup(ven_id_asked=None, **kwargs):
    vid = ven_id_asked if ven_id_asked is not None else kwargs.get("ven_id")
    if vid == ven_id:
        return {"ven_id": ven_id, "ven_name": ven_id, "fingerprint": fingerprint, "registration_id": "reg-" + ven_id}
    return {}


async def on_create_party_registration(info):
    if info.get("ven_name") != ven_id:
        return False
    print("REGISTERED", flush=True)
    server.add_event(ven_id=ven_id, signal_name="simple", signal_type="level",
                     intervals=[{"dtstart": datetime.now(timezone.utc) + timedelta(minutes=1),
                                 "duration": timedelta(minutes=10), "signal_payload": 1.0}],
                     callback=on_opt, event_id="ol-event-1")
    return ven_id, "reg-" + ven_id


async def on_opt(ven_id, event_id, opt_type):
    print("OPT", opt_type, flush=True)


async def on_update_report(data, ven_id, resource_id, measurement):
    for when, value in data:
        print("REPORT", resource_id, measurement, value, flush=True)


async def on_register_report(ven_id, resource_id, measurement, unit, scale, min_sampling_interval, max_sampling_interval):
    return partial(on_update_report, ven_id=ven_id, resource_id=resource_id, measurement=measurement), min_sampling_interval


async def received(content):
    print("RECEIVED", "signed" if b"Signature" in content else "unsigned", flush=True)


async def responded(text):
    print("RESPONDED", "signed" if text and "<ds:Signature" in text else "unsigned", flush=True)


hooks.register("before_parse", received)
hooks.register("before_respond", responded)
signing = {"cert": cert, "key": key} if signed else {}
server = OpenADRServer(vtn_id="OL-VTN", http_host="127.0.0.1", http_port=port, http_cert=cert, http_key=key,
                       http_ca_file=ca, ven_lookup=ven_lookup, verify_message_signatures=signed,
                       requested_poll_freq=timedelta(seconds=1), show_server_cert_domain=False,
                       show_fingerprint=False, **signing)
server.add_handler("on_create_party_registration", on_create_party_registration)
server.add_handler("on_register_report", on_register_report)

loop = asyncio.new_event_loop()
asyncio.set_event_loop(loop)
loop.create_task(server.run())
print("LISTENING", flush=True)
loop.run_forever()

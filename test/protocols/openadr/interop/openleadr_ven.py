"""openleadr-python as a VEN against an erab VTN (interop check, see the README developer section).

usage: /usr/bin/python3 openleadr_ven.py OPENLEADR_DIR VTN_URL CERT KEY CA VEN_NAME [VTN_FINGERPRINT]

Without VTN_FINGERPRINT: XML signatures off, with ./shim standing in for signxml.
With VTN_FINGERPRINT: signed both ways with the real signxml (which must be importable, e.g. on
PYTHONPATH): openleadr signs every payload with CERT/KEY and verifies every reply against the VTN
certificate with that fingerprint, dropping any reply that is unsigned or does not verify.
Prints one line per milestone (REGISTERED, EVENT <id>, REPORT, SENT signed|unsigned,
VERIFIED <type>) so the driving test can follow.
"""
import asyncio
import os
import sys
from datetime import timedelta

here = os.path.dirname(os.path.abspath(__file__))
signed = len(sys.argv) > 7
if not signed:
    sys.path.insert(0, os.path.join(here, "shim"))
sys.path.insert(0, sys.argv[1])

import signxml  # noqa: E402
from openleadr import OpenADRClient  # noqa: E402

vtn_url, cert, key, ca, ven_name = sys.argv[2:7]
vtn_fingerprint = sys.argv[7] if signed else None
print("SIGNXML", os.path.dirname(signxml.__file__), flush=True)


async def on_event(event):
    print("EVENT", event["event_descriptor"]["event_id"], flush=True)
    return "optIn"


async def read_power():
    print("REPORT", flush=True)
    return 1.25


def sent(xml):
    print("SENT", "signed" if "<ds:Signature" in xml else "unsigned", flush=True)


def verified(xml):
    # before_parse_xml runs after openleadr checked the reply's signature against VTN_FINGERPRINT.
    if "Signature" in xml and "oadrSignedObject" in xml:
        kind = xml.split("<oadr:oadrSignedObject", 1)[1].split("<", 2)[1].split(" ", 1)[0].split(">", 1)[0]
        print("VERIFIED", kind, flush=True)


async def main():
    client = OpenADRClient(ven_name=ven_name, vtn_url=vtn_url, cert=cert, key=key, ca_file=ca,
                           disable_signature=not signed, vtn_fingerprint=vtn_fingerprint,
                           check_hostname=True, ven_id=ven_name)
    client.add_handler("on_event", on_event)
    client.add_hook("before_send_xml", sent)
    if signed:
        client.add_hook("before_parse_xml", verified)
    client.add_report(callback=read_power, resource_id="device001", measurement="power",
                      sampling_rate=timedelta(seconds=2), report_specifier_id="ol-power", unit="W", scale="none")
    await client.run()
    print("REGISTERED", client.ven_id, flush=True)
    while True:
        await asyncio.sleep(3600)

asyncio.run(main())

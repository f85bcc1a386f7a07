"""openleadr-python as a VEN against an erab VTN (interop check, see the README developer section).

usage: /usr/bin/python3 openleadr_ven.py OPENLEADR_DIR VTN_URL CERT KEY CA VEN_NAME
Prints one line per milestone (REGISTERED, EVENT <id>, REPORT) so the driving test can follow.
"""
import asyncio
import os
import sys
from datetime import timedelta

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "shim"))
sys.path.insert(0, sys.argv[1])

from openleadr import OpenADRClient  # noqa: E402

vtn_url, cert, key, ca, ven_name = sys.argv[2:7]


async def on_event(event):
    print("EVENT", event["event_descriptor"]["event_id"], flush=True)
    return "optIn"


async def read_power():
    print("REPORT", flush=True)
    return 1.25


async def main():
    client = OpenADRClient(ven_name=ven_name, vtn_url=vtn_url, cert=cert, key=key, ca_file=ca,
                           disable_signature=True, check_hostname=True, ven_id=ven_name)
    client.add_handler("on_event", on_event)
    client.add_report(callback=read_power, resource_id="device001", measurement="power",
                      sampling_rate=timedelta(seconds=2), report_specifier_id="ol-power", unit="W", scale="none")
    await client.run()
    print("REGISTERED", client.ven_id, flush=True)
    while True:
        await asyncio.sleep(3600)

asyncio.run(main())

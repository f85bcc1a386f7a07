"""Writes the signxml-signed OpenADR payloads that test/protocols/openadr/signxml-fixtures.test.ts checks.

usage: PYTHONPATH=SIGNXML_DIR /usr/bin/python3 make_signxml_fixtures.py OPENLEADR_DIR OUT_DIR RSA_CERT RSA_KEY EC_CERT EC_KEY

Each payload is made by openleadr's own create_message (its templates, its ReplayProtect, its
call to signxml's XMLSigner), with the signer configured as openleadr 0.5.34 does (RSA-SHA256,
inclusive c14n) or reconfigured for the other forms the OpenADR profile allows (ECDSA-SHA256,
exclusive c14n with an InclusiveNamespaces PrefixList, exclusive c14n with comments). In every
one, the second ds:Reference designates the ds:Object holding the ds:SignatureProperties, as
signxml writes it. Run once; the output is committed as test data (see the README).
"""
import os
import sys
from functools import partial

sys.path.insert(0, sys.argv[1])

import signxml  # noqa: E402
from signxml import XMLSigner, methods  # noqa: E402
from openleadr import messaging  # noqa: E402

out, rsa_cert, rsa_key, ec_cert, ec_key = sys.argv[2:7]
read = lambda p: open(p, "rb").read()  # noqa: E731

CREATED_EVENT = dict(
    response={"response_code": 200, "response_description": "OK", "request_id": "req-1"},
    event_responses=[{"response_code": 200, "response_description": "OK", "request_id": "req-1",
                      "event_id": "event-1", "modification_number": 0, "opt_type": "optIn"}],
    ven_id="ven-1",
)


def signer(signature_algorithm, c14n_algorithm, prefixes=None):
    s = XMLSigner(method=methods.detached, signature_algorithm=signature_algorithm, c14n_algorithm=c14n_algorithm)
    s.namespaces["oadr"] = "http://openadr.org/oadr-2.0b/2012/07"
    if prefixes:
        s.sign = partial(s.sign, inclusive_ns_prefixes=prefixes)
    return s


def write(name, message_type, cert, key, payload, use=None):
    if use is not None:
        messaging.SIGNER = use
    xml = messaging.create_message(message_type, cert=read(cert), key=read(key), **payload)
    with open(os.path.join(out, name), "w") as f:
        f.write(xml)
    print("wrote", name)


default_signer = messaging.SIGNER
# 1. exactly what openleadr 0.5.34 sends: RSA-SHA256, inclusive c14n 1.0
write("openleadr-rsa-createdEvent.xml", "oadrCreatedEvent", rsa_cert, rsa_key, CREATED_EVENT, default_signer)
write("openleadr-rsa-poll.xml", "oadrPoll", rsa_cert, rsa_key, {"ven_id": "ven-1"}, default_signer)
# 2. ECDSA-SHA256 (signxml writes r||s), exclusive c14n with an InclusiveNamespaces PrefixList
write("signxml-ecdsa-exc-prefixlist-createdEvent.xml", "oadrCreatedEvent", ec_cert, ec_key, CREATED_EVENT,
      signer("http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256", "http://www.w3.org/2001/10/xml-exc-c14n#", ["oadr"]))
# 3. RSA-SHA256, exclusive c14n with comments
write("signxml-rsa-exc-comments-poll.xml", "oadrPoll", rsa_cert, rsa_key, {"ven_id": "ven-1"},
      signer("http://www.w3.org/2001/04/xmldsig-more#rsa-sha256", "http://www.w3.org/2001/10/xml-exc-c14n#WithComments"))
print("signxml", getattr(signxml, "__version__", "?"), "from", os.path.dirname(signxml.__file__))

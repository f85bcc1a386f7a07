# Stand-in for the `signxml` package, which Debian does not ship and PyPI is not reachable from
# here. openleadr imports it at module load; with this shim openleadr runs with XML signatures
# disabled (client disable_signature=True, server verify_message_signatures=False, no signing
# cert). Any attempt to sign or verify fails loudly instead of silently passing.
class methods:  # noqa: N801 - mirrors the real module's name
    detached = "detached"
    enveloped = "enveloped"
    enveloping = "enveloping"


class XMLSigner:
    def __init__(self, *args, **kwargs):
        self.namespaces = {}

    def sign(self, *args, **kwargs):
        raise NotImplementedError("signxml is not installed: run openleadr with signatures disabled")


class XMLVerifier:
    def verify(self, *args, **kwargs):
        raise NotImplementedError("signxml is not installed: run openleadr with signatures disabled")

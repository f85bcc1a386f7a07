# Part of the signxml stand-in (see __init__.py).
class InvalidSignature(Exception):
    pass


class InvalidInput(Exception):
    pass

"""User-facing errors. Every message names the op, the domain and the problem."""


class FpsemError(Exception):
    """Root of every error a user can cause (bad names, shapes, options, files)."""


class UnknownDomain(FpsemError):
    pass


class DomainUnavailable(FpsemError):
    pass


class UnsupportedOption(FpsemError):
    pass


class UnsupportedOp(FpsemError):
    """A primitive or op that a domain does not implement (with the reason)."""


class ShapeError(FpsemError):
    pass


class NotRepresentable(FpsemError):
    """The result of an op is not representable in the domain (e.g. an irrational in `exact`)."""


class WeightsError(FpsemError):
    """A weights file that is missing, malformed or does not fit the model."""


def op_error(cls, op, domain, problem):
    """Build an error whose message has the fixed shape `op[domain]: problem`."""
    dname = getattr(domain, "label", domain)
    return cls(f"{op}[{dname}]: {problem}")

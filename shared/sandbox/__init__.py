"""A simulator of the VTEX and CleverTap APIs (and of S3) for tests, the demo and benchmarks."""

from shared.sandbox.control import SandboxControl
from shared.sandbox.server import Sandbox
from shared.sandbox.state import CatalogSpec, SandboxAccount

__all__ = ["CatalogSpec", "Sandbox", "SandboxAccount", "SandboxControl"]

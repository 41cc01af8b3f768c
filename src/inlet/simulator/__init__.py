"""Runnable partner simulators (a Dexcom-like CGM and the ACME pump) for the demo and for tests.

Each is an ASGI app built from a config (``create_dexcom_app``, ``create_acme_app``); its runtime is
``app.state.simulator``. ``start_simulator(app)`` serves one on loopback in a background thread.
Time comes from an injected clock (``FrozenClock`` in tests), data from seeds: the same seed gives the
same records, and records appear as simulated time passes.
"""

from inlet.simulator.acme import AcmeAccount, AcmeConfig, create_acme_app, default_acme_config
from inlet.simulator.clock import FrozenClock, SimClock
from inlet.simulator.core import DEFAULT_CLIENT, SimulatorConfig
from inlet.simulator.dexcom import DexcomAccount, DexcomConfig, create_dexcom_app, default_dexcom_config
from inlet.simulator.oauth import OAuthClient
from inlet.simulator.server import BackgroundSimulator, start_simulator

__all__ = [
    "DEFAULT_CLIENT",
    "AcmeAccount",
    "AcmeConfig",
    "BackgroundSimulator",
    "DexcomAccount",
    "DexcomConfig",
    "FrozenClock",
    "OAuthClient",
    "SimClock",
    "SimulatorConfig",
    "create_acme_app",
    "create_dexcom_app",
    "default_acme_config",
    "default_dexcom_config",
    "start_simulator",
]

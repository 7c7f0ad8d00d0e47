"""The service shell: settings, storage, the aiohttp app, CLI and telephony adapters."""

__version__ = "0.1.0"

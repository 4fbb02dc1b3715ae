"""Is the Hugging Face hub reachable?  A leaf module, so data loaders and the model zoo can both ask.

transformers and datasets retry for most of a minute before giving up offline;
this quick TCP check lets the offline fallbacks (local files, the GGUF small tier)
take over at once.
"""
from __future__ import annotations

import os
import socket
from urllib.parse import urlparse


def hub_reachable(timeout: float = 3.0) -> bool:
    """True when the hub answers a TCP connection quickly and offline mode is off."""
    if os.environ.get("HF_HUB_OFFLINE", "0").lower() in {"1", "true", "yes"}:
        return False
    host = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False

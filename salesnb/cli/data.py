"""Commands about the data source itself: ``validate`` and ``sample``."""
from __future__ import annotations

import click

from . import cli

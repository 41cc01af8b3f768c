"""The partner registry: every folder under ``partners/`` that holds a ``manifest.toml``.

Adding a partner is adding a folder; nothing here names one. :func:`load_registry` reads the
manifests, applies ``INLET_PARTNER_<SLUG>_<FIELD>`` overrides from the environment, and logs a
warning for ``INLET_PARTNER_*`` variables that match no partner or field (a typo would otherwise be
silently ignored).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from inlet.partners.contract import ManifestError, Partner, apply_overrides, load_manifest, unknown_overrides

PACKAGE_DIR = Path(__file__).parent
PACKAGE = __name__.rsplit(".", 1)[0]
log = logging.getLogger("inlet.partners")


def partner_folders(root: Path = PACKAGE_DIR) -> list[Path]:
    """The partner folders: subdirectories holding a ``manifest.toml``, by name."""
    return sorted(p.parent for p in root.glob("*/manifest.toml"))


def discover(root: Path = PACKAGE_DIR, package: str = PACKAGE) -> list[Partner]:
    """Every partner's manifest, as written (no overrides). The folder name must be the slug."""
    partners = []
    for folder in partner_folders(root):
        partner = load_manifest(folder / "manifest.toml", f"{package}.{folder.name}")
        if partner.slug != folder.name:
            raise ManifestError(f"{folder / 'manifest.toml'}: slug {partner.slug!r} must be the folder name")
        partners.append(partner)
    return partners


class PartnerRegistry:
    """The partners this server knows, by slug."""

    def __init__(self, partners: Iterable[Partner] = ()) -> None:
        self._by_slug: dict[str, Partner] = {}
        for partner in partners:
            if partner.slug in self._by_slug:
                raise ManifestError(f"two partners have the slug {partner.slug!r}")
            self._by_slug[partner.slug] = partner

    def get(self, slug: str) -> Partner | None:
        """A known partner, enabled or not."""
        return self._by_slug.get(slug)

    def available(self, slug: str) -> Partner | None:
        """A partner people can connect now: enabled, with credentials."""
        partner = self._by_slug.get(slug)
        return partner if partner is not None and partner.configured else None

    def add(self, partner: Partner) -> None:
        """Register (or replace) a partner defined in code (tests, embedded setups)."""
        self._by_slug[partner.slug] = partner

    def __iter__(self) -> Iterator[Partner]:
        return iter(self._by_slug.values())

    def __len__(self) -> int:
        return len(self._by_slug)

    @property
    def slugs(self) -> list[str]:
        return list(self._by_slug)


def load_registry(environ: Mapping[str, str] | None = None, root: Path = PACKAGE_DIR) -> PartnerRegistry:
    """The folders' partners with the environment's overrides (``os.environ`` by default)."""
    env = os.environ if environ is None else environ
    partners = [apply_overrides(partner, env) for partner in discover(root)]
    for key in unknown_overrides(env, {p.slug for p in partners}):
        log.warning("ignoring %s: it names no partner or no overridable field", key)
    for partner in partners:
        if partner.enabled and not partner.configured:
            log.info(
                "partner %s is not offered: set %sCLIENT_ID and %sCLIENT_SECRET",
                partner.slug,
                partner.env_prefix,
                partner.env_prefix,
            )
    return PartnerRegistry(partners)

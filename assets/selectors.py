"""Reading stored assets (never their chunks)."""

from django.db.models import Count, F, Max, QuerySet, Window
from django.db.models.functions import RowNumber

from assets.models import Asset
from assets.semver import clean
from jobsite.errors import NotFound


def list_assets(options, *, name: str | None = None, version: str | None = None) -> list[Asset]:
    """A page (`options`: jobsite.api.query.SearchOptions) of the assets, of one name or name and version."""
    assets = Asset.objects.all()
    if name is not None:
        assets = assets.filter(name=name)
    if version is not None:
        assets = assets.filter(version=version)
    return list(options.page(assets))


def get_asset(asset_id: str) -> Asset:
    asset = Asset.objects.defer("metadata").filter(pk=asset_id).first()
    if asset is None:
        raise NotFound(f"Unable to find asset {asset_id}")
    return asset


def newest_first(assets) -> list[Asset]:
    """Highest semantic version first; of one version (other runtimes), the newest upload first. Versions
    are cleaned on upload, so none should fail to parse; one that did would sort last."""

    def key(asset):
        version = clean(asset.version)
        return (version is not None, version or (), asset.created)

    return sorted(assets, key=key, reverse=True)


def asset_names(*, contains: str = "") -> QuerySet:
    """One row per asset name (`name`, `versions`, `latest`), the most recently uploaded to first: a
    queryset, for the console to page."""
    names = Asset.objects.all()
    if contains:
        names = names.filter(name__icontains=contains)
    return names.values("name").annotate(versions=Count("id"), latest=Max("created")).order_by("-latest", "name")


def latest_versions(names, *, per_name: int) -> dict[str, list[Asset]]:
    """The `per_name` latest uploads of each name (one query, whatever the number of names), newest
    version first."""
    ranked = (
        Asset.objects.filter(name__in=list(names))
        .defer("metadata")
        .annotate(rank=Window(RowNumber(), partition_by=[F("name")], order_by=[F("created").desc(), F("id")]))
        .filter(rank__lte=per_name)
    )
    grouped: dict[str, list[Asset]] = {}
    for asset in ranked:
        grouped.setdefault(asset.name, []).append(asset)
    return {name: newest_first(assets) for name, assets in grouped.items()}


def versions_of(name: str, *, cap: int) -> tuple[list[Asset], int]:
    """Every version of `name`, newest version first, and how many there are; past `cap` only the `cap`
    latest uploads are sorted and returned (the count says how many were left out)."""
    assets = list(Asset.objects.filter(name=name).defer("metadata").order_by("-created", "id")[:cap])
    total = len(assets) if len(assets) < cap else Asset.objects.filter(name=name).count()
    return newest_first(assets), total


def has_versions(name: str) -> bool:
    return Asset.objects.filter(name=name).exists()

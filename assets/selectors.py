"""Reading stored assets (never their chunks)."""

from assets.models import Asset


def list_assets(options, *, name: str | None = None, version: str | None = None) -> list[Asset]:
    """A page (`options`: jobsite.api.query.SearchOptions) of the assets, of one name or name and version."""
    assets = Asset.objects.all()
    if name is not None:
        assets = assets.filter(name=name)
    if version is not None:
        assets = assets.filter(version=version)
    return list(options.page(assets))

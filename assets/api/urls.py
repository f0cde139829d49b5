"""Asset routes. Teraslice (Express) tolerates a trailing slash and ignores the case of paths."""

from assets.api import views
from jobsite.api.routes import re_path_any_case

NAME = r"(?P<name>[^/]+)"
VERSION = r"(?P<version>[^/]+)"


def route(pattern: str, view, name: str):
    return re_path_any_case(pattern + "/?$", view, name=name)


urlpatterns = [
    route("^assets", views.AssetsView.as_view(), "assets"),
    route(f"^assets/{NAME}", views.AssetView.as_view(), "asset"),
    route(f"^assets/{NAME}/{VERSION}", views.AssetVersionView.as_view(), "asset-version"),
]

# Text tables are mounted at the root only, as Teraslice's.
txt_urlpatterns = [
    route("^txt/assets", views.TxtAssetsView.as_view(), "txt-assets"),
    route(f"^txt/assets/{NAME}", views.TxtAssetsOfNameView.as_view(), "txt-assets-name"),
    route(f"^txt/assets/{NAME}/{VERSION}", views.TxtAssetsOfVersionView.as_view(), "txt-assets-version"),
]

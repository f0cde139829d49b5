"""Which stored assets a job's `assets` references resolve to (spec/teraslice.md §6.4)."""

import sys

import pytest

from assets.resolution import MAX_REFERENCE_LENGTH, MAX_REFERENCES, host_arch, resolve
from jobsite.errors import Invalid


def versions(references):
    return [asset.version for asset in resolve(references)]


def refusal(references) -> str:
    with pytest.raises(Invalid) as raised:
        resolve(references)
    return raised.value.message


def test_a_name_resolves_to_its_highest_version(make_asset):
    make_asset("ex1", "0.0.1")
    make_asset("ex1", "0.1.1")
    make_asset("ex1", "0.0.9")
    assert versions(["ex1"]) == ["0.1.1"]


@pytest.mark.parametrize("wanted", ["latest", "*"])
def test_latest_and_star_mean_the_highest_version(make_asset, wanted):
    make_asset("ex1", "0.0.1")
    make_asset("ex1", "1.2.0")
    assert versions([f"ex1:{wanted}"]) == ["1.2.0"]


def test_an_exact_version_picks_it(make_asset):
    make_asset("ex1", "0.0.1")
    make_asset("ex1", "0.1.1")
    assert versions(["ex1:0.0.1"]) == ["0.0.1"]


@pytest.mark.parametrize(
    ("wanted", "expected"),
    [("^0.1.0", "0.1.9"), ("~1.2", "1.2.5"), (">=1 <2", "1.3.0"), ("1.x", "1.3.0"), ("<1.0.0", "0.1.9")],
)
def test_a_range_picks_the_highest_version_inside_it(make_asset, wanted, expected):
    for version in ("0.1.0", "0.1.9", "1.2.0", "1.2.5", "1.3.0", "2.0.0"):
        make_asset("ex1", version)
    assert versions([f"ex1:{wanted}"]) == [expected]


def test_prereleases_satisfy_ranges(make_asset):
    make_asset("ex1", "1.0.0")
    make_asset("ex1", "1.1.0-rc.1")
    assert versions(["ex1:^1.0.0"]) == ["1.1.0-rc.1"]


def test_an_id_resolves_to_that_asset(make_asset):
    old = make_asset("ex1", "0.0.1")
    make_asset("ex1", "0.1.1")
    assert resolve([old.id]) == [old]


def test_an_asset_named_twice_is_listed_once(make_asset):
    asset = make_asset("ex1", "0.0.1")
    assert resolve(["ex1", asset.id, "ex1:0.0.1"]) == [asset]


def test_references_keep_their_order(make_asset):
    make_asset("b", "1.0.0")
    make_asset("a", "1.0.0")
    assert [asset.name for asset in resolve(["b", "a"])] == ["b", "a"]


def test_an_unknown_name_is_not_found(make_asset):
    make_asset("ex1", "0.0.1")
    assert refusal(["nope"]) == 'Failure to get assets, caused by No assets found for "nope"'


def test_a_range_no_version_satisfies_is_not_found(make_asset):
    make_asset("ex1", "0.0.1")
    assert refusal(["ex1:^1.0.0"]) == 'Failure to get assets, caused by No assets found for "ex1:^1.0.0"'


def test_an_unknown_id_is_not_found(db):
    assert "No assets found for" in refusal(["f" * 40])


@pytest.mark.parametrize(
    "pinned", [{"python_version": "99.0"}, {"platform": "plan9"}, {"arch": "sparc"}], ids=lambda p: next(iter(p))
)
def test_an_asset_this_host_cannot_run_is_a_mismatch(make_asset, pinned):
    make_asset("ex1", "0.0.1", **pinned)
    message = refusal(["ex1"])
    assert message.startswith(
        'Failure to get assets, caused by No asset found for "ex1", due to a potential python_version|platform|arch mismatch'
    )


def test_a_newer_version_this_host_cannot_run_gives_way_to_an_older_one(make_asset):
    make_asset("ex1", "0.0.1")
    make_asset("ex1", "0.2.0", python_version="99.0")
    assert versions(["ex1"]) == ["0.0.1"]


def test_fields_matching_this_host_are_compatible(make_asset):
    running = f"{sys.version_info[0]}.{sys.version_info[1]}"
    make_asset("ex1", "0.0.1", python_version=running, platform=sys.platform, arch=host_arch())
    assert versions(["ex1"]) == ["0.0.1"]


def test_an_older_python_version_is_compatible(make_asset):
    make_asset("ex1", "0.0.1", python_version="3.0")
    assert versions(["ex1"]) == ["0.0.1"]


def test_an_invalid_range_is_refused(make_asset):
    make_asset("ex1", "0.0.1")
    assert refusal(["ex1:>>1"]) == 'Failure to get assets, caused by Invalid version range ">>1" in "ex1:>>1"'


def test_too_many_references_are_refused(db):
    assert refusal([f"a{n}" for n in range(MAX_REFERENCES + 1)]) == (
        f"assets: at most {MAX_REFERENCES} assets, got {MAX_REFERENCES + 1}"
    )


def test_a_too_long_reference_is_refused(db):
    assert "at most 255 characters" in refusal(["a" * (MAX_REFERENCE_LENGTH + 1)])

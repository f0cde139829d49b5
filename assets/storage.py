"""Reading a stored zip back, one chunk row at a time."""

from collections.abc import Iterator

from assets.models import AssetChunk


def chunks(asset_id: str) -> Iterator[bytes]:
    """The zip's bytes in order, one chunk row per item: only one row is ever held in memory.

    Each row is fetched by its number rather than through one cursor, so no server-side cursor (and so
    no transaction) has to stay open while the caller writes the bytes somewhere slow.
    """
    number = 0
    while True:
        data = AssetChunk.objects.filter(asset_id=asset_id, number=number).values_list("data", flat=True).first()
        if data is None:
            return
        yield bytes(data)
        number += 1

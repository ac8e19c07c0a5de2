"""`python -m services.privacy.worker`: the list of erasures, and carrying out each confirmed one."""
from __future__ import annotations

from collections.abc import Callable

from services.privacy.application import PrivacyService
from services.privacy.projections import ErasureViews
from shared.process import Running
from shared.runtime import projection_main


def main(argv: list[str] | None = None) -> int:
    def bind(process: Running) -> Callable[..., ErasureViews]:
        store = process.event_store("privacy")  # created here, in this process
        # the service finds professionals in the index this projection writes: the same generation's
        return lambda views_store, **options: ErasureViews(
            views_store, PrivacyService(store, views_store, process.personal_data), **options)

    return projection_main(ErasureViews, argv, bind=bind)


if __name__ == "__main__":
    raise SystemExit(main())

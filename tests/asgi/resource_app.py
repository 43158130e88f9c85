"""resource_site's page as an App whose resource log goes to stdout (for real servers)."""

import resource_site

from engine.asgi import App


class _Printing(list):
    def append(self, event: str) -> None:
        print(f"resource_app: {event}", flush=True)
        super().append(event)


resource_site.EVENTS = _Printing()
app = App({"/": resource_site.page})

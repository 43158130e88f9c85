"""asyncio_resource_site's page as an App, for a real uvicorn process."""

import asyncio_resource_site

from engine.asgi import App

app = App({"/": asyncio_resource_site.page})

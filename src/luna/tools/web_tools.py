"""The web search tool, built only for a Luna with a search provider configured.

It lives in a registry of its own, made from the settings, so an unconfigured Luna has no such
tool at all (the model never sees one it can't use) and catalog.load(settings) adds it.
"""

from __future__ import annotations

from luna.config import Settings
from luna.errors import InvalidInput
from luna.outbound.web_search import WebSearchResult, build_web_search
from luna.tools.context import ToolContext
from luna.tools.registry import Registry

MAX_QUERY = 300


def web_tools(settings: Settings) -> Registry:
    tools = Registry()
    provider = build_web_search(settings)
    if provider is None:
        return tools

    @tools.tool(writes=False)
    async def web_search(ctx: ToolContext, query: str) -> WebSearchResult:
        """Search the web for facts Luna doesn't keep (opening hours, news, how-tos).

        Args:
            query: What to look up, as you would type it into a search engine.
        """
        clean = " ".join(query.split())
        if not clean:
            raise InvalidInput("say what to search for")
        if len(clean) > MAX_QUERY:
            raise InvalidInput(f"a search can be at most {MAX_QUERY} characters")
        return await provider.search(clean)

    return tools

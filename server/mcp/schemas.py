"""What the MCP tools return; their JSON schemas become the tools' output schemas."""

from __future__ import annotations

from pydantic import BaseModel, Field

from askwiki.server.schemas import SearchHit, SearchResponse


class WikiSearchOut(SearchResponse):
    """``/api/search``'s response, plus where the wiki came nearest when nothing is relevant."""

    closest: list[SearchHit] = Field(
        default_factory=list,
        description="Only when 'relevant' is false (no passage passed the relevance floor): the "
        "passages that came nearest, one per page, for you to judge; results is then empty.",
    )


class PageSectionOut(BaseModel):
    section: str = Field(description="Heading path, e.g. 'Page › Section › Subsection'.")
    anchor: str = Field(description="The section's anchor in the page's URL ('' for the top).")
    url: str | None = Field(description="Link to the section (or PDF page).")
    page: int | None = Field(None, description="PDF page number, for PDFs.")
    text: str = Field(description="The section's text as indexed.")
    chunk_ids: list[str] = Field(description="Ids of the indexed chunks the text was joined from.")
    truncated: bool = Field(False, description="True if the text was cut at max_chars.")


class PageOut(BaseModel):
    doc_id: str
    title: str
    url: str | None = Field(description="Link to the page.")
    index_version: str
    sections: list[PageSectionOut] = Field(
        description="Sections in page order, from start_section."
    )
    total_sections: int = Field(description="How many sections the page has.")
    next_section: int | None = Field(
        description="Pass this as start_section to read on; null when the page is complete."
    )

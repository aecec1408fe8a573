"""``askwiki index``: inspect built indexes."""

from __future__ import annotations

from dataclasses import asdict

import typer
from rich.table import Table

from askwiki.cli.common import IndexDirOption, IndexOption, JsonOption, build_settings
from askwiki.cli.output import console, print_json
from askwiki.store.index import open_index
from askwiki.store.layout import published_versions

app = typer.Typer(help="Inspect built indexes.", no_args_is_help=True)


@app.command("info")
def info(
    index: IndexOption = None, index_dir: IndexDirOption = None, json_output: JsonOption = False
) -> None:
    """Show the manifest of the live version and the counts of each part."""
    settings = build_settings(index=index, index_dir=index_dir)
    wiki = open_index(settings.index_path)
    try:
        data = asdict(wiki.manifest)
        data["path"] = str(wiki.path)
        data["versions_on_disk"] = published_versions(settings.index_path)
        data["dense_vectors"] = int(wiki.dense.ntotal)
        data["keyword_documents"] = len(wiki.keyword)
        data["disk_bytes"] = sum(p.stat().st_size for p in wiki.path.rglob("*") if p.is_file())
    finally:
        wiki.close()
    if json_output:
        print_json(data)
        return
    table = Table(title=f"Index '{data['name']}'", show_header=False)
    for key in (
        "version",
        "path",
        "documents",
        "chunks",
        "dense_index",
        "dense_vectors",
        "keyword_documents",
        "disk_bytes",
        "created_at",
        "updated_at",
        "previous_version",
    ):
        table.add_row(key, str(data[key]))
    table.add_row(
        "embedding model", f"{data['embedding']['model']} ({data['embedding']['dimension']}-d)"
    )
    table.add_row(
        "chunking",
        f"{data['chunking']['chunk_tokens']} tokens, overlap {data['chunking']['overlap_tokens']}",
    )
    table.add_row("versions on disk", ", ".join(data["versions_on_disk"]))
    console.print(table)

"""The fields every answer object carries, as the ask API and the question log return it."""

ANSWER_KEYS = {
    "id",
    "question",
    "answer",
    "language",
    "sources",
    "created_at",
    "model",
    "timings",
    "status",
    "generated",
    "standalone_question",
    "index_version",
    "corrections",
    "unsupported_removed",
    "cached",
    "cached_from",
    "curated",
    "reviewed_by",
    "related",
    "closest",
}

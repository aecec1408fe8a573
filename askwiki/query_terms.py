"""A question's keywords as the keyword leg and the relevance floor count them.

Across languages (``RetrievalOptions.cross_language``) the keywords include the glossary
translations the index mined from the wiki and, with ``bilingual_dictionary``, those of
CC-CEDICT; the dictionary's look-ups are made once per question, whichever of the two
asks first.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from functools import lru_cache

from askwiki.bilingual_dictionary import (
    bilingual_dictionary,
    flattened_translations,
    translated_term_weights,
)
from askwiki.evidence import TermWeights, term_weights
from askwiki.retrieval_options import RetrievalOptions
from askwiki.store.index import WikiIndex
from askwiki.text import keyword_tokens

# A search asks for the keywords of its question and of its translation, and the floor asks
# again for each: a few recent questions cover one search.
_REMEMBERED_QUERIES = 16


class QueryTerms:
    """The keywords of questions against one index version; safe to share across threads."""

    def __init__(self, index: WikiIndex, options: RetrievalOptions) -> None:
        self.index = index
        self.options = options
        # Versions built before the cross-language profile have none: the logic is off.
        self.crossing = options.cross_language and bool(index.languages.languages)
        self.dictionary = self.crossing and options.bilingual_dictionary
        self._expanded = lru_cache(maxsize=_REMEMBERED_QUERIES)(self._expansion)

    def without_dictionary(self) -> QueryTerms:
        """The same terms with CC-CEDICT left out (a search that has the LLM's translation)."""
        if not self.dictionary:
            return self
        return QueryTerms(self.index, replace(self.options, bilingual_dictionary=False))

    def keywords(self, query: str) -> list[str]:
        """The keyword tokens the BM25 leg searches and the floor's coverage counts."""
        if not self.crossing:
            return keyword_tokens(query)
        expanded, synonyms = self._expanded(query)
        tokens = list(expanded)
        tokens.extend(t for t in flattened_translations(synonyms) if t not in tokens)
        return tokens

    def weights(self, query: str) -> TermWeights:
        """The query's keywords (glossary translations included) weighted by how rare they
        are among the index's chunks; a word the dictionary translates counts once, found
        in a passage holding it or one of its translations."""
        keyword = self.index.keyword
        if self.dictionary:
            expanded, synonyms = self._expanded(query)
            return translated_term_weights(
                list(expanded), synonyms, keyword.document_frequency, len(keyword)
            )
        return term_weights(self.keywords(query), keyword.document_frequency, len(keyword))

    def _expansion(self, query: str) -> tuple[tuple[str, ...], Mapping[str, frozenset[str]]]:
        """The query's tokens with their glossary translations, and CC-CEDICT's synonyms
        of them that some chunk contains (none without the dictionary)."""
        expanded = tuple(self.index.languages.expanded_keywords(query))
        if not self.dictionary:
            return expanded, {}
        frequency = self.index.keyword.document_frequency
        return expanded, bilingual_dictionary().synonyms(query, frequency)

"""Domain errors: the library raises these, the edges (CLI, HTTP) translate them."""

from __future__ import annotations


class AskwikiError(Exception):
    """Base of every error askwiki raises on purpose; the message says what to do next."""


class ConfigError(AskwikiError):
    """Raised when settings are inconsistent or name something that does not exist."""


class ModelError(AskwikiError):
    """Raised when a model (embedding or LLM) cannot be found, built or loaded."""


class IndexNotFoundError(AskwikiError):
    """Raised when an index name has no built version on disk."""


class IndexMismatchError(AskwikiError):
    """Raised when an index was built with another embedding model than the configured one."""


class IndexLockedError(AskwikiError):
    """Raised when another process is already writing the same index."""


class IndexCorruptError(AskwikiError):
    """Raised when an index version on disk is incomplete or damaged."""


class IndexWriteError(AskwikiError):
    """Raised when a new index version cannot be written (disk full, permissions)."""


class DocumentError(AskwikiError):
    """Raised when one input file cannot be read as a document; ingestion skips it."""


class InputTooLargeError(DocumentError):
    """Raised when an input file exceeds the configured size limit."""


class LLMError(AskwikiError):
    """Raised when the language model backend fails or does not answer in time."""

    def __init__(self, message: str, backend: str) -> None:
        super().__init__(message)
        self.backend = backend


class QuestionNotFoundError(AskwikiError):
    """Raised when a stored question id does not exist."""


class QuestionLogError(AskwikiError):
    """Raised when the question log database cannot be opened, read or written."""


class EvalFileError(AskwikiError):
    """Raised when an evaluation questions file is missing, unreadable or holds no question."""


class AdminAccessError(AskwikiError):
    """Base of the refusals of admin requests (admin API off, token missing or wrong)."""


class AdminDisabledError(AdminAccessError):
    """Raised for any admin request while ASKWIKI_ADMIN_TOKEN is unset: the API is off, not open."""


class AdminAuthError(AdminAccessError):
    """Raised when an admin request has no ``Authorization: Bearer`` token or a wrong one."""


class UploadRejectedError(AskwikiError):
    """Raised when an uploaded file (or a whole upload) is refused: bad name, type or content."""


class StorageError(AskwikiError):
    """Raised when uploaded data cannot be written to disk (disk full, permissions)."""


class JobNotFoundError(AskwikiError):
    """Raised when an admin job id is unknown (never created, or older than the kept history)."""


class DocumentNotFoundError(AskwikiError):
    """Raised when a document id is neither in the served index nor in the uploads folder."""


class SourceConfigError(ConfigError):
    """Raised when askwiki.toml or a one-off ``kind:address`` source cannot be used."""


class SourceError(AskwikiError):
    """Raised when a wiki source cannot be read (unreachable, refused, bad answer)."""


class QuestionHiddenError(QuestionNotFoundError):
    """Raised when a public page or API asks for a question an editor has hidden."""


class CurationError(AskwikiError):
    """Raised when a curated answer cannot be accepted: empty text, or a page to cite that
    the served index does not hold."""

"""Files attached to a message: what a file is, whether it may be sent, and its text.

Qt-free and store-free: :mod:`desktop.services.attachments` reads the file
in a worker thread and hands the bytes here.
"""

from desktop.attachments.reading import (
    MAX_FILE_BYTES,
    MAX_FILES,
    MAX_MESSAGE_BYTES,
    AttachmentError,
    check_message,
    check_size,
    describe_size,
    identify,
    pdf_text,
    text_of,
)

__all__ = [
    "MAX_FILES",
    "MAX_FILE_BYTES",
    "MAX_MESSAGE_BYTES",
    "AttachmentError",
    "check_message",
    "check_size",
    "describe_size",
    "identify",
    "pdf_text",
    "text_of",
]

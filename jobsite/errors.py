"""Domain errors raised by services. The API layer renders them in the shape of each surface."""


class DomainError(Exception):
    status_code = 500
    es_type = "exception"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class Invalid(DomainError):
    status_code = 400
    es_type = "illegal_argument_exception"


class Forbidden(DomainError):
    status_code = 403
    es_type = "security_exception"


class NotFound(DomainError):
    status_code = 404
    es_type = "resource_not_found_exception"


class Conflict(DomainError):
    status_code = 409
    es_type = "status_exception"


class Gone(DomainError):
    status_code = 410
    es_type = "status_exception"


class Unprocessable(DomainError):
    status_code = 422
    es_type = "illegal_argument_exception"


class Timeout(DomainError):
    status_code = 429
    es_type = "timeout_exception"

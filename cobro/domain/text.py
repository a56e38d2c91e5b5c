"""Text a request may carry: PostgreSQL's `text` cannot hold a NUL character, so a field that
is stored refuses it as a 422 up front (it was a 503 "database unavailable" from the insert)."""

# A JSON Schema (ECMA) and pydantic (Rust) regex alike; in the OpenAPI schema as it is here.
NO_NUL = r"^[^\x00]*$"

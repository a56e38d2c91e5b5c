-- Run once by temporal-postgres on its first start (an empty volume): Temporal keeps visibility
-- (the workflow list and search attributes ops query) in its own database.
CREATE DATABASE temporal_visibility;

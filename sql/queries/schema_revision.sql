-- The Alembic revision of our schema.
SELECT version_num FROM reactor_alembic_version

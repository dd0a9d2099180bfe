-- Grafana's PostgreSQL data source (public/app/plugins/datasource/grafana-postgresql-datasource/
-- postgresMetaQuery.ts), its templates filled in for table 'orders', schema 'public';
-- queries separated by a line holding only ';'.

SELECT current_setting('server_version_num')::int/100 as version
;
SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'
;

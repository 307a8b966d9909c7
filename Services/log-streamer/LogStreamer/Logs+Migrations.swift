import FlukePostgres
import FlukeRuntime

/// The `logs` schema: entries partitioned by day, the outbox that carries `POST /api/v1/logs`
/// batches to `FLUKE_LOGS`, dead letters of the intake, and the two functions that make and drop
/// partitions.
public enum LogsMigrations {
    /// What `<service> migrate` applies, as the schema's owner.
    public static let migrator = PostgresMigrator(schema: "logs", migrations: all)

    static let all: [PostgresMigration] = [
        // One row per entry. `seq` is the entry's FLUKE_LOGS stream sequence: the one order lists
        // and cursors use (arrival order), so paging is stable while entries arrive; `ts` (the
        // entry's own timestamp) filters and is the partition key. The primary key must hold
        // the partition key, so uniqueness is per (tenant, id, ts): a redelivered message carries
        // the same entry, and ON CONFLICT DO NOTHING stores it once.
        PostgresMigration("0001_entries", """
            CREATE TABLE logs.entries (
                tenant_id uuid NOT NULL,
                ts timestamptz NOT NULL,
                seq bigint NOT NULL,
                id text NOT NULL,
                project_id uuid,
                app_name text,
                deployment_id uuid,
                -- debug 0, info 1, warn 2, error 3: "level=warn" is level >= 2.
                level smallint NOT NULL CHECK (level BETWEEN 0 AND 3),
                event_type text,
                entry jsonb NOT NULL,
                PRIMARY KEY (tenant_id, id, ts)
            ) PARTITION BY RANGE (ts);
            -- Every query names its tenant and reads newest (or oldest) first by seq; the rest
            -- serve the seed's filters, the partial ones its most common question
            -- (app_name=…&level=error).
            CREATE INDEX entries_seq ON logs.entries (tenant_id, seq);
            CREATE INDEX entries_app ON logs.entries (tenant_id, app_name, seq);
            CREATE INDEX entries_app_warn ON logs.entries (tenant_id, app_name, seq) WHERE level >= 2;
            CREATE INDEX entries_app_error ON logs.entries (tenant_id, app_name, seq) WHERE level >= 3;
            CREATE INDEX entries_deployment ON logs.entries (tenant_id, deployment_id, seq) WHERE deployment_id IS NOT NULL;
            CREATE INDEX entries_project ON logs.entries (tenant_id, project_id, seq) WHERE project_id IS NOT NULL;
            \(TenantDatabase.policySQL(table: "logs.entries"))

            \(Outbox.tableSQL(schema: "logs"))

            \(DeadLetters.tableSQL(schema: "logs"))

            \(partitionFunctions)

            SELECT logs.ensure_partitions(14, 3);
            """),
    ]

    /// The service's role owns nothing and cannot create or drop tables; these two functions run
    /// as the schema's owner (SECURITY DEFINER) and can touch only `logs.entries_YYYYMMDD`, names
    /// they build from dates themselves. Each partition gets the parent's row-level security too,
    /// so that naming a partition directly shows no other tenant's rows either.
    static let partitionFunctions = """
        CREATE FUNCTION logs.ensure_partitions(keep_days integer, days_ahead integer, as_of timestamptz DEFAULT now())
            RETURNS integer LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
        DECLARE
            today date := (as_of AT TIME ZONE 'UTC')::date;
            part_day date;
            part text;
            made integer := 0;
            rule text := $r$tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid OR current_setting('app.system', true) = 'on'$r$;
        BEGIN
            keep_days := least(greatest(keep_days, 1), 3650);
            days_ahead := least(greatest(days_ahead, 0), 31);
            FOR part_day IN SELECT d::date FROM generate_series((today - keep_days)::timestamp, (today + days_ahead)::timestamp,
                                                                 interval '1 day') AS d LOOP
                part := 'entries_' || to_char(part_day, 'YYYYMMDD');
                CONTINUE WHEN to_regclass('logs.' || part) IS NOT NULL;
                BEGIN
                    EXECUTE format('CREATE TABLE logs.%I PARTITION OF logs.entries FOR VALUES FROM (%L) TO (%L)',
                                   part, to_char(part_day, 'YYYY-MM-DD') || ' 00:00:00+00',
                                   to_char(part_day + 1, 'YYYY-MM-DD') || ' 00:00:00+00');
                    EXECUTE format('ALTER TABLE logs.%I ENABLE ROW LEVEL SECURITY', part);
                    EXECUTE format('ALTER TABLE logs.%I FORCE ROW LEVEL SECURITY', part);
                    EXECUTE format('CREATE POLICY tenant_isolation ON logs.%I USING (%s) WITH CHECK (%s)', part, rule, rule);
                    made := made + 1;
                EXCEPTION WHEN duplicate_table OR duplicate_object OR unique_violation THEN
                    NULL;  -- another replica made it meanwhile
                END;
            END LOOP;
            RETURN made;
        END
        $$;

        -- Drops the partitions whose whole day is older than keep_days days before as_of.
        CREATE FUNCTION logs.drop_partitions(keep_days integer, as_of timestamptz DEFAULT now())
            RETURNS SETOF text LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
        DECLARE
            child text;
            cutoff timestamptz;
        BEGIN
            keep_days := least(greatest(keep_days, 1), 3650);
            cutoff := as_of - make_interval(days => keep_days);
            FOR child IN
                SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                WHERE i.inhparent = 'logs.entries'::regclass AND c.relname ~ '^entries_[0-9]{8}$'
                ORDER BY c.relname
            LOOP
                IF ((to_date(substr(child, 9), 'YYYYMMDD') + 1)::timestamp AT TIME ZONE 'UTC') <= cutoff THEN
                    EXECUTE format('DROP TABLE logs.%I', child);
                    RETURN NEXT child;
                END IF;
            END LOOP;
        END
        $$;

        REVOKE ALL ON FUNCTION logs.ensure_partitions(integer, integer, timestamptz) FROM PUBLIC;
        REVOKE ALL ON FUNCTION logs.drop_partitions(integer, timestamptz) FROM PUBLIC;
        GRANT EXECUTE ON FUNCTION logs.ensure_partitions(integer, integer, timestamptz) TO fluke_logs;
        GRANT EXECUTE ON FUNCTION logs.drop_partitions(integer, timestamptz) TO fluke_logs;
        """
}

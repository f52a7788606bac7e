package litellm

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/goleak"

	"github.com/outrigger/outrigger/internal/testkit"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func connect(t *testing.T, schemaFile string) *pgx.Conn {
	t.Helper()
	pg := testkit.StartPostgres(t, testkit.PostgresOptions{})
	ddl, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	pg.PSQL(t, "postgres", string(ddl))
	conn, err := pgx.Connect(t.Context(), pg.DSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func explain(t *testing.T, conn *pgx.Conn, sql string, args ...any) string {
	t.Helper()
	rows, err := conn.Query(t.Context(), "EXPLAIN "+sql, args...)
	if err != nil {
		t.Fatalf("EXPLAIN %s: %v", sql, err)
	}
	var lines []string
	for rows.Next() {
		var l string
		if err := rows.Scan(&l); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, l)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}

// Every query runs on both schema generations, and the incremental spend-log
// read is an index range scan on "startTime", never a scan of the table.
func TestQueriesRunOnNewAndOldSchemas(t *testing.T) {
	for _, file := range []string{"../testdata/schema.sql", "../testdata/schema_old.sql"} {
		t.Run(file, func(t *testing.T) {
			conn := connect(t, file)
			ctx := t.Context()
			s, err := DetectSchema(ctx, conn)
			if err != nil {
				t.Fatal(err)
			}
			if !s.HasTable(TableKeys) || !s.Has(TableSpendLogs, "startTime") {
				t.Fatalf("schema detection missed tables: %v", s.Tables())
			}
			if _, err := ReadBudgets(ctx, conn, s, 10); err != nil {
				t.Fatal(err)
			}
			for _, src := range []DailySource{DailyUsage, DailyTags} {
				if _, err := ReadDays(ctx, conn, s, src, "2026-01-01", "2026-02-01"); err != nil {
					t.Fatal(err)
				}
				if _, err := ReadTotalsBefore(ctx, conn, s, src, "2026-02-01"); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := ReadKeys(ctx, conn, s, []string{"a", "b"}); err != nil {
				t.Fatal(err)
			}
			now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
			if _, err := ReadSpendLogs(ctx, conn, s, now.Add(-time.Hour), now.Add(-time.Minute), now, func(SpendLogRow) {}); err != nil {
				t.Fatal(err)
			}
			if _, err := conn.Exec(ctx, `SET enable_seqscan = off`); err != nil {
				t.Fatal(err)
			}
			plan := explain(t, conn, s.SpendLogsSQL(), now.Add(-time.Hour), now.Add(-time.Minute), now)
			if !strings.Contains(plan, "LiteLLM_SpendLogs_startTime") {
				t.Fatalf("the spend-log read does not use the startTime index:\n%s", plan)
			}
		})
	}
}

func TestIdentQuotes(t *testing.T) {
	if got := Ident(`a"b`); got != `"a""b"` {
		t.Fatalf("Ident = %s", got)
	}
}

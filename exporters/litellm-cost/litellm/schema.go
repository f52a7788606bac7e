package litellm

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Querier is what the readers need from a connection (*pgx.Conn has it).
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// Table names as Prisma creates them.
const (
	TableSpendLogs       = "LiteLLM_SpendLogs"
	TableKeys            = "LiteLLM_VerificationToken"
	TableDeletedKeys     = "LiteLLM_DeletedVerificationToken"
	TableTeams           = "LiteLLM_TeamTable"
	TableUsers           = "LiteLLM_UserTable"
	TableBudgets         = "LiteLLM_BudgetTable"
	TableOrgs            = "LiteLLM_OrganizationTable"
	TableEndUsers        = "LiteLLM_EndUserTable"
	TableTags            = "LiteLLM_TagTable"
	TableDailyUserSpend  = "LiteLLM_DailyUserSpend"
	TableDailyTagSpend   = "LiteLLM_DailyTagSpend"
	TableDailyTeamSpend  = "LiteLLM_DailyTeamSpend"
	TableConfig          = "LiteLLM_Config"
	ProxyBudgetUserID    = "litellm-proxy-budget"
	requiredForReadiness = TableKeys
)

// Schema is what information_schema says about the LiteLLM tables.
type Schema struct {
	// columns: table -> column -> data_type
	columns map[string]map[string]string
}

// DetectSchema reads the columns of every LiteLLM_* table in the current schema.
func DetectSchema(ctx context.Context, q Querier) (*Schema, error) {
	rows, err := q.Query(ctx, `SELECT table_name::text, column_name::text, data_type::text
FROM information_schema.columns
WHERE table_schema = current_schema() AND table_name LIKE 'LiteLLM\_%'`)
	if err != nil {
		return nil, fmt.Errorf("reading information_schema.columns: %w", err)
	}
	s := &Schema{columns: map[string]map[string]string{}}
	var table, column, typ string
	_, err = pgx.ForEachRow(rows, []any{&table, &column, &typ}, func() error {
		if s.columns[table] == nil {
			s.columns[table] = map[string]string{}
		}
		s.columns[table][column] = typ
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading information_schema.columns: %w", err)
	}
	return s, nil
}

// HasTable reports whether the table exists.
func (s *Schema) HasTable(table string) bool { return s != nil && s.columns[table] != nil }

// Has reports whether the table has the column.
func (s *Schema) Has(table, column string) bool {
	if s == nil {
		return false
	}
	_, ok := s.columns[table][column]
	return ok
}

// Type returns the data_type of a column ("" when absent).
func (s *Schema) Type(table, column string) string {
	if s == nil {
		return ""
	}
	return s.columns[table][column]
}

// Tables lists the LiteLLM tables found, sorted.
func (s *Schema) Tables() []string {
	var out []string
	for t := range s.columns {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// Missing returns the tables among want that do not exist.
func (s *Schema) Missing(want ...string) []string {
	var out []string
	for _, t := range want {
		if !s.HasTable(t) {
			out = append(out, t)
		}
	}
	return out
}

// ReadinessTables are the tables without which the exporter has nothing to say.
func ReadinessTables() []string { return []string{requiredForReadiness} }

// Ident quotes an identifier the way Prisma's names need.
func Ident(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }

// col returns alias."column" when it exists, else the fallback expression.
func (s *Schema) col(table, alias, column, fallback string) string {
	if s.Has(table, column) {
		return alias + "." + Ident(column)
	}
	return fallback
}

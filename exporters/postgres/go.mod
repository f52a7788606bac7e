module github.com/outrigger/outrigger/exporters/postgres

go 1.26.0

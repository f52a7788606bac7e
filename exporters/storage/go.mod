module github.com/outrigger/outrigger/exporters/storage

go 1.26.0

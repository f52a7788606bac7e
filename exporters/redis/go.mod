module github.com/outrigger/outrigger/exporters/redis

go 1.26.0

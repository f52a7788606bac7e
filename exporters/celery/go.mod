module github.com/outrigger/outrigger/exporters/celery

go 1.26.0

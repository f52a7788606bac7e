module github.com/outrigger/outrigger/exporters/storage

go 1.26.0

replace github.com/outrigger/outrigger/internal/promkit => ../../internal/promkit

replace github.com/outrigger/outrigger/internal/testkit => ../../internal/testkit

require golang.org/x/sys v0.49.0

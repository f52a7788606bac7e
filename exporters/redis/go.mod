module github.com/outrigger/outrigger/exporters/redis

go 1.26.0

replace github.com/outrigger/outrigger/internal/promkit => ../../internal/promkit

replace github.com/outrigger/outrigger/internal/testkit => ../../internal/testkit

require go.uber.org/goleak v1.3.0

require github.com/stretchr/testify v1.12.1 // indirect

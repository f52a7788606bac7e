module github.com/outrigger/outrigger/exporters/storage

go 1.26.0

replace github.com/outrigger/outrigger/internal/promkit => ../../internal/promkit

replace github.com/outrigger/outrigger/internal/testkit => ../../internal/testkit

require (
	go.uber.org/goleak v1.3.0
	golang.org/x/sys v0.49.0
	gopkg.in/yaml.v3 v3.0.1
)

require github.com/kr/text v0.2.0 // indirect
